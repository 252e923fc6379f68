// The fuzz target over decode -> validate -> apply, shared by the libFuzzer
// binary (ops/fuzz.sh) and a gtest that replays crafted inputs in the suite.
//
// The input is a sequence of records, each `u8 flags, u16le length, bytes`:
// the bytes are a Kafka payload; flags pick the key (user_id, empty, or a
// different one) and the message timestamp. Every record that validates is
// applied to one UserState; the target aborts if an invariant breaks.
#ifndef ENCORE_TESTS_FUZZ_EVENT_FUZZ_TARGET_H_
#define ENCORE_TESTS_FUZZ_EVENT_FUZZ_TARGET_H_

#include <cstddef>
#include <cstdint>

namespace encore::fuzz {

// Returns the number of records applied. Aborts on a broken invariant:
// a non-finite or negative decayed value, arms unsorted or over the bound,
// a serialized state over the documented bound, or a state that does not
// round-trip through its wire format.
int DecodeValidateApply(const uint8_t* data, size_t size);

}  // namespace encore::fuzz

#endif  // ENCORE_TESTS_FUZZ_EVENT_FUZZ_TARGET_H_
