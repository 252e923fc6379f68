// Helpers of the codecs' tests (user_record_test, user_record_wire_test,
// listen_event_test): random messages with every field set through
// reflection, and a record's encoding as a value.
#ifndef ENCORE_STATE_USER_RECORD_TESTING_H_
#define ENCORE_STATE_USER_RECORD_TESTING_H_

#include <cstdint>
#include <limits>
#include <string>

#include "bandits/rng.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/reflection.h"
#include "gtest/gtest.h"
#include "state/user_record.h"

namespace encore::user_state_testing {

// Values that stress the wire format: zeros (omitted), negatives (ten-byte
// varints), extremes, -0.0 (written: its bits are not zero) and NaN.
inline int64_t RandomInt(bandits::Rng& rng) {
  switch (rng.NextU64() % 6) {
    case 0:
      return 0;
    case 1:
      return -static_cast<int64_t>(rng.NextU64() % 1000);
    case 2:
      return std::numeric_limits<int64_t>::min();
    case 3:
      return static_cast<int64_t>(rng.NextU64() % 300);
    default:
      return static_cast<int64_t>(rng.NextU64() >> (rng.NextU64() % 64));
  }
}

inline double RandomDouble(bandits::Rng& rng) {
  switch (rng.NextU64() % 6) {
    case 0:
      return 0.0;
    case 1:
      return -0.0;
    case 2:
      return std::numeric_limits<double>::quiet_NaN();
    case 3:
      return -std::numeric_limits<double>::infinity();
    default:
      return rng.Normal() * 1e6;
  }
}

inline std::string RandomString(bandits::Rng& rng) {
  const size_t n = rng.NextU64() % 3 == 0 ? 0 : rng.NextU64() % 40;
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s.push_back(static_cast<char>('a' + rng.NextU64() % 26));
  }
  return s;
}

// Sets every field of `m` (recursively, each repeated field 0-4 times, each
// message field present or not) to random values through reflection, so
// that a field added to the proto is covered without touching this test.
inline void FillRandomly(bandits::Rng& rng, google::protobuf::Message* m,
                         int depth = 0) {
  const google::protobuf::Reflection* r = m->GetReflection();
  const auto* d = m->GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    const int count = f->is_repeated() ? static_cast<int>(rng.NextU64() % 5)
                                       : (rng.NextU64() % 4 == 0 ? 0 : 1);
    for (int k = 0; k < count; ++k) {
      const bool rep = f->is_repeated();
      switch (f->cpp_type()) {
        case google::protobuf::FieldDescriptor::CPPTYPE_INT64:
          rep ? r->AddInt64(m, f, RandomInt(rng))
              : r->SetInt64(m, f, RandomInt(rng));
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_UINT64:
          rep ? r->AddUInt64(m, f, static_cast<uint64_t>(RandomInt(rng)))
              : r->SetUInt64(m, f, static_cast<uint64_t>(RandomInt(rng)));
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_INT32:
          rep ? r->AddInt32(m, f, static_cast<int32_t>(RandomInt(rng)))
              : r->SetInt32(m, f, static_cast<int32_t>(RandomInt(rng)));
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_UINT32:
          rep ? r->AddUInt32(m, f, static_cast<uint32_t>(RandomInt(rng)))
              : r->SetUInt32(m, f, static_cast<uint32_t>(RandomInt(rng)));
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_DOUBLE:
          rep ? r->AddDouble(m, f, RandomDouble(rng))
              : r->SetDouble(m, f, RandomDouble(rng));
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_ENUM:
          // Open (proto3) enums hold any int32, named or not.
          rep ? r->AddEnumValue(m, f, static_cast<int32_t>(RandomInt(rng)))
              : r->SetEnumValue(m, f, static_cast<int32_t>(RandomInt(rng)));
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_BOOL:
          r->SetBool(m, f, rng.NextU64() % 2 == 0);
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_STRING:
          rep ? r->AddString(m, f, RandomString(rng))
              : r->SetString(m, f, RandomString(rng));
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE:
          if (depth < 3) {
            FillRandomly(rng,
                         rep ? r->AddMessage(m, f) : r->MutableMessage(m, f),
                         depth + 1);
          }
          break;
        default:
          FAIL() << "field type not covered: " << f->full_name();
      }
    }
  }
}

inline std::string Encoded(const UserRecord& user) {
  std::string bytes;
  EncodeTo(user, &bytes);
  return bytes;
}

}  // namespace encore::user_state_testing

#endif  // ENCORE_STATE_USER_RECORD_TESTING_H_
