#pragma once
// What a command handler returns. Success is the default; a failed Status prints as
// "% <message>" (the IOS error style); a handler that printed its own error returns
// CmdResult::printed_failure() (Context::error() does that for you).

#include "common/status.h"

namespace scepter::cli {

class [[nodiscard]] CmdResult {
 public:
  CmdResult() = default;
  CmdResult(Status status) : status_(std::move(status)) {}  // NOLINT: `return status;`

  static CmdResult printed_failure() {
    CmdResult r;
    r.printed_failure_ = true;
    return r;
  }

  bool ok() const { return status_.ok() && !printed_failure_; }
  // The message still to print ("" when none).
  const std::string& unprinted_message() const { return status_.message(); }
  const Status& status() const { return status_; }

 private:
  Status status_;
  bool printed_failure_ = false;
};

}  // namespace scepter::cli
