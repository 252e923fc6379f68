// wire::Reader: reads protobuf wire format for the direct decoders
// (state/user_record_wire.h, state/listen_event.h), which take only the
// forms protobuf's own serializer writes and leave everything else to
// protobuf's parser.
//
//   wire::Reader r(bytes);
//   while (!r.done()) {
//     uint32_t field, type;
//     if (!r.Tag(&field, &type)) return false;  // declined
//     ...
//   }
//
// Thread safety: one per decode.
#ifndef ENCORE_STATE_WIRE_READER_H_
#define ENCORE_STATE_WIRE_READER_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/strings/string_view.h"

namespace encore {
namespace wire {

static_assert(std::endian::native == std::endian::little);

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLength = 2 };

// Reads protobuf wire format from [p, end). Every read returns false (and
// the decode is declined) on bytes it does not take: truncated, a varint
// longer than protobuf writes, a string that is not ASCII.
class Reader {
 public:
  explicit Reader(absl::string_view bytes)
      : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}

  bool done() const { return p_ == end_; }

  // A varint of at most `max_bytes` bytes, whose 10th byte (if any) holds
  // only bit 63. Protobuf reads values of up to 10 bytes, and tags and
  // lengths of up to 5.
  bool Varint(uint64_t* v, int max_bytes = 10) {
    if (p_ != end_ && static_cast<uint8_t>(*p_) < 0x80) {  // most are
      *v = static_cast<uint8_t>(*p_++);
      return true;
    }
    uint64_t result = 0;
    for (int shift = 0; shift < 7 * max_bytes; shift += 7) {
      if (p_ == end_) return false;
      const auto byte = static_cast<uint8_t>(*p_++);
      if (shift == 63 && byte > 1) return false;
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (byte < 0x80) {
        *v = result;
        return true;
      }
    }
    return false;
  }

  // Varints as protobuf reads its integer types: int64 as the 64 bits,
  // int32 and uint32 as the low 32 of them.
  bool Int64(int64_t* v) { return Cast(v); }
  bool Int32(int32_t* v) { return Cast(v); }
  bool UInt32(uint32_t* v) { return Cast(v); }

  // The next field's number and wire type.
  bool Tag(uint32_t* field, uint32_t* type) {
    uint64_t tag;
    if (!Varint(&tag, 5) || tag > UINT32_MAX || (tag >> 3) == 0) return false;
    *field = static_cast<uint32_t>(tag >> 3);
    *type = static_cast<uint32_t>(tag & 7);
    return true;
  }

  bool Fixed64(uint64_t* v) {
    if (end_ - p_ < 8) return false;
    std::memcpy(v, p_, 8);
    p_ += 8;
    return true;
  }

  bool Double(double* v) {
    uint64_t bits;
    if (!Fixed64(&bits)) return false;
    *v = std::bit_cast<double>(bits);
    return true;
  }

  // A length-delimited value.
  bool Bytes(absl::string_view* v) {
    uint64_t n;
    if (!Varint(&n, 5) || n > static_cast<uint64_t>(end_ - p_)) return false;
    *v = absl::string_view(p_, static_cast<size_t>(n));
    p_ += n;
    return true;
  }

  // A proto3 `string` of ASCII characters (so valid UTF-8 without further
  // checks); others are left to protobuf's UTF-8 validation.
  bool Ascii(absl::string_view* v) {
    if (!Bytes(v)) return false;
    const char* p = v->data();
    size_t n = v->size();
    uint64_t any = 0;
    for (; n >= 8; p += 8, n -= 8) {
      uint64_t word;
      std::memcpy(&word, p, 8);
      any |= word;
    }
    for (; n > 0; ++p, --n) any |= static_cast<unsigned char>(*p);
    return (any & 0x8080808080808080u) == 0;
  }

  // Skips the value of a field of wire type `type` (for counting).
  bool Skip(uint32_t type) {
    uint64_t ignored;
    absl::string_view bytes;
    switch (type) {
      case kVarint:
        return Varint(&ignored);
      case kFixed64:
        return Fixed64(&ignored);
      case kLength:
        return Bytes(&bytes);
      default:
        return false;
    }
  }

 private:
  template <class Int>
  bool Cast(Int* v) {
    uint64_t u;
    if (!Varint(&u)) return false;
    *v = static_cast<Int>(u);
    return true;
  }

  const char* p_;
  const char* end_;
};

}  // namespace wire
}  // namespace encore

#endif  // ENCORE_STATE_WIRE_READER_H_
