#pragma once
// Test helpers for the CLI: a Device in a fresh temporary directory, and a transcript
// runner that prints a session the way a terminal shows it. Tests only.
//
// Transcript input, one line per entry:
//   show clock          a command (or the answer to a pending question)
//   show ?              a '?' keypress: the listing for the text before it
//   sh cry<tab>         a Tab keypress: the completions of the text before it
// Output: the prompt, the line as echoed (a hidden answer is not), then what it printed.

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "ca/device.h"
#include "cli/session.h"

namespace scepter::cli::testing {

class TempDevice {
 public:
  TempDevice() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "scepter-cli-XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    root_ = tmpl;
    std::filesystem::create_directories(root_ / "flash");
    auto d = ca::Device::create(
        ca::DeviceOptions{(root_ / "nvram").string(), (root_ / "flash").string(), ""}, clock_);
    EXPECT_TRUE(d.has_value()) << d.error().to_string();
    device_ = std::move(*d);
  }
  ~TempDevice() {
    device_.reset();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  TempDevice(const TempDevice&) = delete;
  TempDevice& operator=(const TempDevice&) = delete;

  ca::Device& device() { return *device_; }
  SystemClock& clock() { return clock_; }
  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
  SystemClock clock_;
  std::unique_ptr<ca::Device> device_;
};

// Runs `input` (lines separated by '\n') through `session`; returns the transcript.
inline std::string run_transcript(Session& session, std::string_view input) {
  constexpr std::string_view kTab = "<tab>";
  std::string out;
  while (!input.empty()) {
    auto nl = input.find('\n');
    std::string_view line = input.substr(0, nl);
    input.remove_prefix(nl == std::string_view::npos ? input.size() : nl + 1);
    std::string prompt = session.prompt();
    if (!session.has_question() && line.ends_with('?')) {
      out += prompt + std::string(line) + "\n";
      out += session.help(line.substr(0, line.size() - 1));
    } else if (!session.has_question() && line.ends_with(kTab)) {
      out += prompt + std::string(line) + "\n";
      std::string joined;
      for (const std::string& c : session.complete(line.substr(0, line.size() - kTab.size()))) {
        joined += (joined.empty() ? "" : " ") + c;
      }
      out += joined + "\n";
    } else {
      bool hidden = session.input_hidden();
      out += prompt + (hidden ? std::string() : std::string(line)) + "\n";
      out += session.execute(line).output;
    }
  }
  return out;
}

}  // namespace scepter::cli::testing
