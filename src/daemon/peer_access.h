#pragma once
// Who may drive the CA through scepterd's control socket. Root always may, and so may the
// daemon's own user. When the socket's mode gives its group read and write access (as the
// packaged service does, `--socket-mode 0660`), members of the socket's group may too:
// the group plays the role of FRR's `frrvty`. Anyone else is refused, whatever the file's
// permissions say, so a socket loosened by hand (chmod 0666) opens nothing more.
//
// Pure functions of their arguments except peer_credentials(); thread-safe.

#include <sys/types.h>

#include <optional>
#include <vector>

namespace scepter::daemon {

// The credentials of the process at the other end of a UNIX socket, as the kernel saw
// them when it connected: effective uid and gid, and its supplementary groups.
struct PeerCredentials {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

// What the daemon knows about its own socket: its user and the socket file's group and mode.
struct SocketOwner {
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t mode = 0600;
};

// Reads the peer of the connected UNIX socket `fd` (SO_PEERCRED, SO_PEERGROUPS). nullopt
// when the kernel will not say; callers refuse such a peer.
std::optional<PeerCredentials> peer_credentials(int fd);

// True when `peer` may use a socket owned as `owner` says (see the top of this file).
bool peer_may_connect(const PeerCredentials& peer, const SocketOwner& owner);

}  // namespace scepter::daemon
