// The fuzz target over the stored-user codec (state/user_record.h), shared
// by the libFuzzer binary (ops/fuzz.sh, FUZZ_TARGET=user_record) and a gtest
// that replays crafted inputs in the suite.
//
// The input is the value of a user's key as the store would hand it over.
// The target aborts if DecodeFrom disagrees with protobuf about whether it
// is a UserState, if EncodeTo does not give back protobuf's bytes for what
// was decoded, or if applying events to the decoded user breaks a bound or
// leaves a state that does not round-trip.
#ifndef ENCORE_TESTS_FUZZ_USER_RECORD_FUZZ_TARGET_H_
#define ENCORE_TESTS_FUZZ_USER_RECORD_FUZZ_TARGET_H_

#include <cstddef>
#include <cstdint>

namespace encore::fuzz {

// Returns true if the input decoded as a stored user.
bool DecodeEncodeApply(const uint8_t* data, size_t size);

}  // namespace encore::fuzz

#endif  // ENCORE_TESTS_FUZZ_USER_RECORD_FUZZ_TARGET_H_
