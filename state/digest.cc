#include "state/digest.h"

#include <openssl/evp.h>
#include <xxhash.h>

#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "rocksdb/db.h"
#include "state/key_codec.h"
#include "state/rocks_status.h"
#include "state/status_macros.h"

namespace encore {
namespace {

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  }
  void Update(const void* data, size_t n) {
    EVP_DigestUpdate(ctx_.get(), data, n);
  }
  std::string Finish() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_.get(), out, &n);
    return std::string(reinterpret_cast<char*>(out), n);
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

}  // namespace

EntryHash HashEntry(absl::string_view key, absl::string_view value) {
  const XXH64_hash_t seed = XXH3_64bits(key.data(), key.size());
  const XXH128_hash_t h =
      XXH3_128bits_withSeed(value.data(), value.size(), seed);
  return EntryHash{h.low64, h.high64};
}

namespace {
unsigned __int128 Wide(const EntryHash& h) {
  return (static_cast<unsigned __int128>(h.high) << 64) | h.low;
}
}  // namespace

void ContentDigest::Add(const EntryHash& h) { sum_ += Wide(h); }
void ContentDigest::Subtract(const EntryHash& h) { sum_ -= Wide(h); }

std::string ContentDigest::Bytes() const {
  std::string out(16, '\0');
  for (int i = 0; i < 16; ++i) {
    out[i] = static_cast<char>(static_cast<uint8_t>(sum_ >> (8 * i)));
  }
  return out;
}

std::optional<ContentDigest> ContentDigest::FromBytes(absl::string_view bytes) {
  if (bytes.size() != 16) return std::nullopt;
  ContentDigest d;
  for (int i = 15; i >= 0; --i) {
    d.sum_ = (d.sum_ << 8) | static_cast<uint8_t>(bytes[i]);
  }
  return d;
}

absl::StatusOr<PartitionDigest> DigestDatabase(const std::string& db_dir) {
  rocksdb::Options options;
  options.create_if_missing = false;
  options.max_open_files = 64;
  rocksdb::DB* raw = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::DB::OpenForReadOnly(options, db_dir, &raw),
                            "open " + db_dir));
  std::unique_ptr<rocksdb::DB> db(raw);

  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
  ContentDigest digest;
  PartitionDigest result;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const absl::string_view key(it->key().data(), it->key().size());
    ++result.keys;
    if (key == kMetaKey) continue;
    digest.Add(HashEntry(
        key, absl::string_view(it->value().data(), it->value().size())));
    if (ParseUserKey(key)) ++result.users;
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "scan " + db_dir));
  result.digest = digest.Bytes();
  return result;
}

std::string CombineDigests(
    const std::vector<std::pair<int32_t, std::string>>& partitions) {
  Sha256 sha;
  for (const auto& [partition, digest] : partitions) {
    unsigned char p[4];
    const uint32_t u = static_cast<uint32_t>(partition);
    for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(u >> (8 * i));
    sha.Update(p, sizeof(p));
    sha.Update(digest.data(), digest.size());
  }
  return sha.Finish();
}

std::string HexDigest(const std::string& raw) {
  return absl::BytesToHexString(raw);
}

}  // namespace encore
