#pragma once
// A scripted cli::ShellSession for control-socket and shell tests (header-only; not used
// by the daemon). It knows a handful of IOS-like lines:
//
//   configure terminal | end | exit | crypto pki server NAME | show ...   modes and output
//   no shutdown (cs-server mode)  asks "Password: " and "Re-enter password: " (hidden)
//   confirm                       asks "Proceed? [yes/no]: " (not hidden)
//   echo TEXT | fail | throw      prints TEXT | fails with a '%' error | throws
//   async N                       emits N async lines from another thread, then answers
//   sleep MS                      answers after MS milliseconds
//
// FakeSessionHub makes the sessions and lets a test count them and push async text.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli/shell_session.h"
#include "common/mutex.h"

namespace scepter::daemon::testing {

class FakeSessionHub;

class FakeShellSession final : public cli::ShellSession {
 public:
  FakeShellSession(FakeSessionHub& hub, int id);
  ~FakeShellSession() override;

  cli::Reply execute(std::string_view line) override {
    std::vector<std::string> w = split(line);
    if (question_ != Question::kNone) return answer(std::string(line));
    if (w.empty()) return {};
    const std::string& cmd = w[0];
    if (cmd == "echo")
      return {std::string(line.substr(std::min(line.size(), std::size_t{5}))) + "\n"};
    if (cmd == "fail") return {"% Invalid input detected at '^' marker.\n", false};
    if (cmd == "throw") throw std::runtime_error("scripted failure");
    if (cmd == "show") return {"show output for '" + std::string(line) + "'\n"};
    if (cmd == "end") {
      mode_ = "";
      return {};
    }
    if (cmd == "exit") {
      if (mode_.empty()) return {"", true, true};
      mode_ = mode_ == "cs-server" ? "config" : "";
      return {};
    }
    if (cmd == "conf" || cmd == "configure") {
      mode_ = "config";
      return {"Enter configuration commands, one per line.  End with CNTL/Z.\n"};
    }
    if (cmd == "crypto" && mode_ == "config") {
      mode_ = "cs-server";
      return {};
    }
    if (cmd == "no" && mode_ == "cs-server") {
      question_ = Question::kPassword;
      return {"%Some server settings cannot be changed after CA certificate generation.\n"};
    }
    if (cmd == "confirm") {
      question_ = Question::kConfirm;
      return {};
    }
    if (cmd == "async" && w.size() > 1) {
      int n = std::stoi(w[1]);
      // From another thread, as a debug trace from a CA worker would arrive.
      std::thread([this, n] {
        for (int i = 0; i < n; ++i) emit("CRYPTO_CS: trace line " + std::to_string(i) + "\n");
      }).join();
      return {"sent " + std::to_string(n) + "\n"};
    }
    if (cmd == "sleep" && w.size() > 1) {
      sleep_for(std::chrono::milliseconds(std::stoi(w[1])));
      return {"slept\n"};
    }
    return {"% Invalid input detected at '^' marker.\n", false};
  }

  std::string help(std::string_view line) override {
    if (question_ != Question::kNone) return "";
    std::vector<std::string> w = split(line);
    bool partial = !line.empty() && line.back() != ' ';
    if (w.empty() || (w.size() == 1 && partial)) {
      std::string out;
      for (const auto& [word, text] : commands()) {
        if (!partial) {
          out += "  " + word + std::string(12 - word.size(), ' ') + text + "\n";
        } else if (word.rfind(w[0], 0) == 0) {
          out += word + "  ";
        }
      }
      if (partial) out += "\n";
      return out.empty() ? "% Unrecognized command\n" : out;
    }
    return "  <cr>\n";
  }

  std::vector<std::string> complete(std::string_view line) override {
    std::vector<std::string> w = split(line);
    bool partial = !line.empty() && line.back() != ' ';
    std::vector<std::string> out;
    if (question_ != Question::kNone || w.size() > 1 || (w.size() == 1 && !partial)) return out;
    std::string prefix = w.empty() ? "" : w[0];
    for (const auto& [word, text] : commands()) {
      if (word.rfind(prefix, 0) == 0) out.push_back(word);
    }
    return out;
  }

  std::string prompt() const override {
    switch (question_) {
      case Question::kPassword:
        return "Password: ";
      case Question::kRepeat:
        return "Re-enter password: ";
      case Question::kConfirm:
        return "Proceed? [yes/no]: ";
      case Question::kNone:
        break;
    }
    return mode_.empty() ? "ca1#" : "ca1(" + mode_ + ")#";
  }

  bool input_hidden() const override {
    return question_ == Question::kPassword || question_ == Question::kRepeat;
  }

  void set_async_output(std::function<void(std::string_view)> sink) override {
    MutexLock lock(sink_mu_);
    sink_ = std::move(sink);
  }

  void emit(std::string_view text) {
    MutexLock lock(sink_mu_);
    if (sink_) sink_(text);
  }

 private:
  enum class Question { kNone, kPassword, kRepeat, kConfirm };

  static std::vector<std::string> split(std::string_view line) {
    std::istringstream in{std::string(line)};
    std::vector<std::string> words;
    for (std::string w; in >> w;) words.push_back(w);
    return words;
  }

  std::map<std::string, std::string> commands() const {
    if (mode_.empty()) {
      return {{"async", "Emit debug lines"},
              {"configure", "Enter configuration mode"},
              {"confirm", "Ask a question"},
              {"echo", "Print text"},
              {"exit", "Exit from the EXEC"},
              {"fail", "Fail"},
              {"show", "Show running system information"},
              {"sleep", "Wait"}};
    }
    return {{"crypto", "Encryption module"},
            {"end", "Exit from configure mode"},
            {"exit", "Exit from this mode"},
            {"no", "Negate a command"}};
  }

  cli::Reply answer(const std::string& text) {
    switch (question_) {
      case Question::kPassword:
        password_ = text;
        question_ = Question::kRepeat;
        return {};
      case Question::kRepeat:
        question_ = Question::kNone;
        if (text != password_) return {"% Passwords do not match.\n", false};
        return {"% Certificate Server enabled (password of " + std::to_string(text.size()) +
                " characters).\n"};
      case Question::kConfirm:
        question_ = Question::kNone;
        if (text == "yes" || text == "y") return {"Done.\n"};
        return {"% Aborted.\n", false};
      case Question::kNone:
        break;
    }
    return {};
  }

  void sleep_for(std::chrono::milliseconds ms);  // counted in FakeSessionHub::sleeping()

  FakeSessionHub& hub_;
  int id_;
  std::string mode_;  // "", "config", "cs-server"
  Question question_ = Question::kNone;
  std::string password_;
  Mutex sink_mu_;
  std::function<void(std::string_view)> sink_ GUARDED_BY(sink_mu_);
};

class FakeSessionHub {
 public:
  std::function<std::unique_ptr<cli::ShellSession>(const std::string&)> factory() {
    return [this](const std::string&) {
      return std::make_unique<FakeShellSession>(*this, next_id_++);
    };
  }
  int created() const { return next_id_.load(); }
  int live() const { return live_.load(); }
  // Sessions inside a `sleep` line right now.
  int sleeping() const { return sleeping_.load(); }
  // Sends `text` as async output of every live session.
  void broadcast(std::string_view text) {
    MutexLock lock(mu_);
    for (auto& [id, s] : sessions_) s->emit(text);
  }

 private:
  friend class FakeShellSession;
  std::atomic<int> next_id_{0};
  std::atomic<int> live_{0};
  std::atomic<int> sleeping_{0};
  Mutex mu_;
  std::map<int, FakeShellSession*> sessions_ GUARDED_BY(mu_);
};

inline FakeShellSession::FakeShellSession(FakeSessionHub& hub, int id) : hub_(hub), id_(id) {
  MutexLock lock(hub_.mu_);
  hub_.sessions_[id_] = this;
  hub_.live_.fetch_add(1);
}

inline void FakeShellSession::sleep_for(std::chrono::milliseconds ms) {
  hub_.sleeping_.fetch_add(1);
  std::this_thread::sleep_for(ms);
  hub_.sleeping_.fetch_sub(1);
}

inline FakeShellSession::~FakeShellSession() {
  MutexLock lock(hub_.mu_);
  hub_.sessions_.erase(id_);
  hub_.live_.fetch_sub(1);
}

}  // namespace scepter::daemon::testing
