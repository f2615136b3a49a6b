#include "daemon/peer_access.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace scepter::daemon {

std::optional<PeerCredentials> peer_credentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return std::nullopt;
  PeerCredentials peer{cred.uid, cred.gid, {}};
  // SO_PEERGROUPS says how much room it needs with ERANGE; a member of many groups needs
  // more than the first guess. Without it (an old kernel) only the primary group counts.
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 4; ++attempt) {
    socklen_t size = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &size) == 0) {
      groups.resize(size / sizeof(gid_t));
      peer.groups = std::move(groups);
      break;
    }
    if (errno != ERANGE) break;
    groups.resize(size / sizeof(gid_t) + 1);
  }
  return peer;
}

bool peer_may_connect(const PeerCredentials& peer, const SocketOwner& owner) {
  if (peer.uid == 0 || peer.uid == owner.uid) return true;
  // connect() needs write permission; read is asked for too, so that the mode is the
  // plain "the group may use it" 0660 and not an accident.
  if ((owner.mode & 0060) != 0060) return false;
  return peer.gid == owner.gid ||
         std::find(peer.groups.begin(), peer.groups.end(), owner.gid) != peer.groups.end();
}

}  // namespace scepter::daemon
