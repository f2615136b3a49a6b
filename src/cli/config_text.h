#pragma once
// Building blocks of `show running-config`: each area registers a ConfigWriter (with
// CommandTable::add_config_writer) that prints the commands recreating its state, in
// canonical IOS form. The writers run in `order`, then in registration order; the
// framework puts a "!" line after each writer's output and frames the whole as IOS does:
//
//   !
//   hostname ca1
//   !
//   crypto pki server mycs
//    database level complete
//   !
//   end
//
// A writer must print only commands that parse back to the same state (a round-trip test
// checks this). Writers read the objects through their own locks (see config.h).

#include <functional>
#include <string>
#include <string_view>

namespace scepter::ca {
class Device;
}

namespace scepter::cli {

class ConfigText {
 public:
  // A top-level command.
  void line(std::string_view text);
  // A command inside the block opened by the last line() (indented by one space).
  void child(std::string_view text);
  // A "!" separator. Never printed twice in a row or at the very start.
  void bang();

  const std::string& text() const { return text_; }

 private:
  std::string text_;
  bool last_was_bang_ = true;  // nothing before the first line needs a separator
};

using ConfigWriter = std::function<void(ca::Device&, ConfigText&)>;

// Where a writer's output goes in the running-config (lower first).
namespace config_order {
inline constexpr int kHostname = 100;
inline constexpr int kSystem = 200;
inline constexpr int kTokens = 250;  // before the keys, trustpoints and servers that use them
inline constexpr int kKeys = 300;
inline constexpr int kTrustpoints = 400;
inline constexpr int kCertificateServers = 500;
inline constexpr int kAccounts = 550;  // after the servers, as IOS puts `username`
inline constexpr int kHttp = 600;
inline constexpr int kLast = 1000;
}  // namespace config_order

}  // namespace scepter::cli
