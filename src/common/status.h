#pragma once
// Status and Result<T>: how every module reports failures the outside world can
// cause (bad input, policy refusals, missing records, I/O errors). Bugs use
// CA_ASSERT instead. Status is a small value type, cheap to copy, thread-compatible.

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace scepter {

// Few and stable, as in LevelDB. Callers branch on the code, never on the text.
enum class Code {
  kOk = 0,
  kInvalidArgument,   // bad input: a malformed CSR, a value out of range
  kNotFound,          // no such record, file, label or key
  kAlreadyExists,     // a unique thing (serial, label) is already taken
  kPermissionDenied,  // refused by policy or by a locked configuration
  kUnavailable,       // a resource (disk, database, network) cannot be used now
  kInternal,          // an unexpected failure in a library we call
  kAborted,           // a record changed meanwhile (another node decided first); retry or give up
};

std::string_view code_name(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  // Lets `return fail(s);` work in functions returning Status as well as Result<T>.
  Status(tl::unexpected<Status> u) : Status(std::move(u.value())) {}  // NOLINT

  static Status ok_status() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "NotFound: no certificate with serial 0x5"
  std::string to_string() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status ok_status() { return Status(); }
inline Status invalid_argument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
inline Status not_found(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status already_exists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
inline Status permission_denied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
inline Status unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
inline Status internal_error(std::string m) { return {Code::kInternal, std::move(m)}; }
inline Status aborted(std::string m) { return {Code::kAborted, std::move(m)}; }

// A value or the Status that explains why there is none.
template <class T>
using Result = tl::expected<T, Status>;

// `return fail(not_found("..."));` from a function returning Result<T>.
inline tl::unexpected<Status> fail(Status s) { return tl::unexpected<Status>(std::move(s)); }

// Aborts with a message: for broken invariants only, never for outside input.
[[noreturn]] void assert_fail(const char* file, int line, const char* cond, const char* why);

}  // namespace scepter

#define CA_ASSERT(cond, why) \
  ((cond) ? (void)0 : ::scepter::assert_fail(__FILE__, __LINE__, #cond, why))

#define SCEPTER_CONCAT_INNER(a, b) a##b
#define SCEPTER_CONCAT(a, b) SCEPTER_CONCAT_INNER(a, b)

// RETURN_IF_ERROR(status_expr): returns the Status from the enclosing function when not OK.
// Works in functions returning Status or Result<T>.
#define RETURN_IF_ERROR(expr)                                           \
  do {                                                                  \
    ::scepter::Status scepter_status_ = (expr);                         \
    if (!scepter_status_.ok()) return ::scepter::fail(scepter_status_); \
  } while (0)

// ASSIGN_OR_RETURN(lhs, result_expr): unwraps a Result<T> or returns its Status.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(SCEPTER_CONCAT(scepter_result_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)                \
  auto tmp = (expr);                                         \
  if (!tmp.has_value()) return ::scepter::fail(tmp.error()); \
  lhs = std::move(*tmp)
