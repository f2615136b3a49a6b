#pragma once
// A WriteBatch as the PostgreSQL engine runs it: the statements of its ops (Conn::Step),
// sent as one pipeline when every op's outcome is its statement's, or run one at a time
// inside a transaction when some op has to look at the rows it touched.

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/postgres/conn.h"
#include "store/postgres/reserve.h"
#include "store/store.h"

namespace scepter::store::pg {

// The largest serial and request id the batch stores (the legacy meta keys
// "last_serial" and "last_request_id" count too: every node sees a new floor at once).
Floors floors_of(const WriteBatch& batch);

// The whole batch as steps, the counter rows raised to `raise` last (what the batch
// stores that the rows may be below); nullopt if an op has to look at its rows.
// `sender` prefixes the payload of the batch's notifications. Fails before anything is
// sent for a value no statement could store (a serial above kMaxSerial).
Result<std::optional<std::vector<Step>>> steps_of(const WriteBatch& batch,
                                                  const std::string& sender, const Floors& raise);

// The batch one statement at a time, inside the caller's transaction on `c`.
Status apply(Conn& c, const WriteBatch& batch, const std::string& sender, const Floors& raise);

}  // namespace scepter::store::pg
