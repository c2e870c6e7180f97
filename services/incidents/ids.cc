#include "services/incidents/ids.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace gridloop::incidents {
namespace {

constexpr char kBase32[] = "0123456789abcdefghjkmnpqrstvwxyz";  // Crockford, lower case
constexpr size_t kRandomChars = 12;
constexpr size_t kIdLength = 6 + 1 + 2 + kRandomChars;

// With EVP_sha256(), OpenSSL 3 looks the algorithm up in its provider tables (under a
// lock) on every digest; fetched once here, two digests per report skip that.
const EVP_MD* Sha256() {
  static const EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

}  // namespace

std::string NewIncidentId(int shard, absl::Time now) {
  unsigned char bytes[kRandomChars];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    // The CSPRNG is not expected to fail; a per-thread engine keeps ids unique if it does.
    thread_local std::mt19937_64 engine{std::random_device{}()};
    for (auto& b : bytes) b = static_cast<unsigned char>(engine());
  }
  std::string id = absl::FormatTime("%y%m%d", now, absl::UTCTimeZone());
  absl::StrAppendFormat(&id, "-%02x", shard);
  for (unsigned char b : bytes) id += kBase32[b % 32];
  return id;
}

std::optional<int> ShardOfId(absl::string_view id) {
  if (id.size() != kIdLength || id[6] != '-') return std::nullopt;
  for (size_t i = 0; i < 6; ++i) {
    if (!absl::ascii_isdigit(id[i])) return std::nullopt;
  }
  int shard = 0;
  if (!absl::SimpleHexAtoi(id.substr(7, 2), &shard) || shard < 0 || shard >= kShards) {
    return std::nullopt;
  }
  for (char c : id.substr(9)) {
    if (absl::string_view(kBase32).find(c) == absl::string_view::npos) return std::nullopt;
  }
  return shard;
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, Sha256(), nullptr);
  std::string hex;
  hex.reserve(static_cast<size_t>(len) * 2);
  for (unsigned int i = 0; i < len; ++i) absl::StrAppendFormat(&hex, "%02x", digest[i]);
  return hex;
}

int ShardOfRequest(absl::string_view request_id) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(request_id.data(), request_id.size(), digest, &len, Sha256(), nullptr);
  return digest[0] % kShards;
}

}  // namespace gridloop::incidents
