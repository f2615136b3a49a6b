// libFuzzer target for the command interpreter: the input is split into lines, each fed
// to a Session as a command (or answer), a '?' help request (line ending in '?') or a
// completion request (line ending in a tab). One Device, in a temporary directory, is
// shared by all inputs; each input gets a fresh Session.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "ca/device.h"
#include "cli/command_table.h"
#include "cli/commands/commands.h"
#include "cli/session.h"

namespace {

struct World {
  scepter::SystemClock clock;
  scepter::cli::CommandTable table;
  std::unique_ptr<scepter::ca::Device> device;

  World() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "scepter-fuzz-cli-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    std::filesystem::path root(tmpl);
    std::filesystem::create_directories(root / "flash");
    auto d = scepter::ca::Device::create(
        scepter::ca::DeviceOptions{(root / "nvram").string(), (root / "flash").string(), ""},
        clock);
    if (!d.has_value()) std::abort();
    device = std::move(*d);
    scepter::cli::register_all_commands(table);
  }
};

World& world() {
  static World* w = new World();  // never destroyed: libFuzzer exits without unwinding
  return *w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kMaxInput = 1 << 16;
  if (size > kMaxInput) return 0;
  World& w = world();
  // Every command an input manages to run is audited (nvram:audit.log): the log is kept
  // under 1 MiB so that a `verify audit` or `show audit all` in a later input stays quick.
  std::error_code ec;
  const std::string audit = w.device->audit_log_path();
  if (std::filesystem::file_size(audit, ec) > (std::uintmax_t{1} << 20)) {
    std::filesystem::resize_file(audit, 0, ec);
  }
  scepter::cli::Session session(w.table, *w.device);
  std::string_view input(reinterpret_cast<const char*>(data), size);
  while (!input.empty()) {
    auto nl = input.find('\n');
    std::string_view line = input.substr(0, nl);
    input.remove_prefix(nl == std::string_view::npos ? input.size() : nl + 1);
    (void)session.prompt();
    (void)session.input_hidden();
    if (!line.empty() && line.back() == '?') {
      (void)session.help(line.substr(0, line.size() - 1));
    } else if (!line.empty() && line.back() == '\t') {
      (void)session.complete(line.substr(0, line.size() - 1));
    } else {
      scepter::cli::Reply r = session.execute(line);
      if (r.closed) break;
    }
  }
  return 0;
}
