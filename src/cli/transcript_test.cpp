// Golden transcripts (as FRR's tests/lib/cli): every testdata/<name>.in is replayed on a
// fresh device with the real command table, and the session must print exactly
// testdata/<name>.out. See cli_testing.h for the format. SCEPTER_UPDATE_GOLDEN=1 rewrites
// the .out files instead (review the diff before keeping it).
#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

#include "cli/cli_testing.h"
#include "cli/commands/commands.h"
#include "common/fs.h"

namespace scepter::cli {
namespace {

std::vector<std::filesystem::path> transcript_inputs() {
  std::vector<std::filesystem::path> inputs;
  for (const auto& e : std::filesystem::directory_iterator(SCEPTER_CLI_TESTDATA)) {
    if (e.path().extension() == ".in") inputs.push_back(e.path());
  }
  std::sort(inputs.begin(), inputs.end());
  return inputs;
}

class Transcript : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(Transcript, MatchesGolden) {
  const std::filesystem::path& in = GetParam();
  std::filesystem::path out = in;
  out.replace_extension(".out");
  auto input = fs::read_file(in.string());
  ASSERT_TRUE(input.has_value()) << input.error().to_string();

  CommandTable table;
  register_all_commands(table);
  testing::TempDevice dev;
  Session session(table, dev.device());
  std::string got = testing::run_transcript(session, *input);

  const char* update = std::getenv("SCEPTER_UPDATE_GOLDEN");
  if (update && std::string_view(update) == "1") {
    ASSERT_TRUE(fs::write_atomic(out.string(), got).ok());
    return;
  }
  auto want = fs::read_file(out.string());
  ASSERT_TRUE(want.has_value()) << want.error().to_string();
  EXPECT_EQ(got, *want) << "transcript " << in.filename();
}

INSTANTIATE_TEST_SUITE_P(Golden, Transcript, ::testing::ValuesIn(transcript_inputs()),
                         [](const ::testing::TestParamInfo<std::filesystem::path>& info) {
                           std::string name = info.param.stem().string();
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace scepter::cli
