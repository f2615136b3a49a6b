#include "daemon/peer_access.h"

#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/unique_fd.h"

namespace scepter::daemon {
namespace {

constexpr uid_t kDaemonUid = 120;
constexpr gid_t kDaemonGid = 130;

TEST(PeerAccess, RootAndTheDaemonsUserAlwaysMay) {
  for (mode_t mode : {0600u, 0660u}) {
    const SocketOwner owner{kDaemonUid, kDaemonGid, mode};
    EXPECT_TRUE(peer_may_connect({0, 0, {}}, owner));
    EXPECT_TRUE(peer_may_connect({kDaemonUid, 999, {}}, owner));
  }
}

TEST(PeerAccess, GroupMembersMayOnlyWhenTheModeLetsTheGroupIn) {
  const PeerCredentials primary{1000, kDaemonGid, {}};
  const PeerCredentials supplementary{1000, 1000, {27, kDaemonGid}};
  const PeerCredentials stranger{1000, 1000, {27, 100}};
  const SocketOwner group_rw{kDaemonUid, kDaemonGid, 0660};
  EXPECT_TRUE(peer_may_connect(primary, group_rw));
  EXPECT_TRUE(peer_may_connect(supplementary, group_rw));
  EXPECT_FALSE(peer_may_connect(stranger, group_rw));

  for (mode_t mode : {0600u, 0620u, 0640u}) {
    const SocketOwner owner{kDaemonUid, kDaemonGid, mode};
    EXPECT_FALSE(peer_may_connect(primary, owner)) << std::oct << mode;
    EXPECT_FALSE(peer_may_connect(supplementary, owner)) << std::oct << mode;
  }
}

TEST(PeerAccess, ReadsItsOwnCredentialsFromASocketPair) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  UniqueFd a(fds[0]);
  UniqueFd b(fds[1]);
  auto peer = peer_credentials(a.get());
  ASSERT_TRUE(peer.has_value());
  EXPECT_EQ(peer->uid, ::geteuid());
  EXPECT_EQ(peer->gid, ::getegid());
  EXPECT_EQ(peer->groups.size(), static_cast<std::size_t>(::getgroups(0, nullptr)));
}

TEST(PeerAccess, NotASocketHasNoPeer) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  UniqueFd r(fds[0]);
  UniqueFd w(fds[1]);
  EXPECT_FALSE(peer_credentials(r.get()).has_value());
}

}  // namespace
}  // namespace scepter::daemon
