// The fast path of DecodeFrom (state/user_record.h): reads a stored user
// straight from its wire bytes into a UserRecord, without building a
// protobuf UserState first (parsing into the message tree, copying it into
// the record and freeing it was 8.4 % of encore's samples on the
// cache-miss path, bench/results/decode.md).
//
// It reads the form protoc's serializer and EncodeTo write: known fields of
// the expected wire types, each singular message at most once, each packed
// field once, strings of ASCII only. Anything else (unknown fields at any
// depth, non-ASCII strings that need UTF-8 validation, unpacked repeated
// scalars, a message field repeated to be merged, a tag or length longer
// than protobuf reads, malformed bytes) it declines, and DecodeFrom hands
// the bytes to protobuf's parser as before. So on every input DecodeFrom's
// result is the parser's.
//
//   UserRecord user;
//   if (!DecodeCanonical(bytes, &user)) ...parse with protobuf...
//
// Thread safety: a pure function.
#ifndef ENCORE_STATE_USER_RECORD_WIRE_H_
#define ENCORE_STATE_USER_RECORD_WIRE_H_

#include "absl/strings/string_view.h"
#include "state/user_record.h"

namespace encore {

// Replaces *user with the state `bytes` hold and returns true when they are
// in the form above; false otherwise (*user unspecified). A true result
// equals FromProto of protobuf's parse of `bytes`, down to every vector's
// and string's capacity (so MemoryFootprint, and with it the write-back
// cache's accounting, is the same either way).
bool DecodeCanonical(absl::string_view bytes, UserRecord* user);

}  // namespace encore

#endif  // ENCORE_STATE_USER_RECORD_WIRE_H_
