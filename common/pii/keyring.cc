#include "common/pii/keyring.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/pii/cipher.h"
#include "common/status/status_macros.h"

namespace gridloop::pii {
namespace {

constexpr absl::string_view kVersion = "v1";
constexpr size_t kMaxKeyIdChars = 16;
constexpr size_t kMaxVersionDigits = 4;
constexpr size_t kMinIndexKeyBytes = 32;

bool IsKeyId(absl::string_view id) {
  return !id.empty() && id.size() <= kMaxKeyIdChars &&
         std::all_of(id.begin(), id.end(),
                     [](char c) { return absl::ascii_isalnum(c) || c == '_' || c == '-'; });
}

// "v" and a few digits: a format version, perhaps one from a later release.
bool IsVersion(absl::string_view s) {
  return s.size() >= 2 && s.size() <= 1 + kMaxVersionDigits && s[0] == 'v' &&
         std::all_of(s.begin() + 1, s.end(), [](char c) { return absl::ascii_isdigit(c); });
}

// Unpadded base64url only: the decoder would also skip whitespace and padding, which
// Encrypt never writes.
bool IsBase64Url(absl::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return absl::ascii_isalnum(c) || c == '-' || c == '_'; });
}

absl::Status Invalid(absl::string_view setting, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(setting, ": ", why));
}

// "<version>.<key_id>.<payload>"; `header` is the part before the payload, dot included.
struct EnvelopeParts {
  absl::string_view version;
  absl::string_view key_id;
  absl::string_view payload;
  absl::string_view header;
};

std::optional<EnvelopeParts> SplitEnvelope(absl::string_view envelope) {
  const size_t first = envelope.find('.');
  if (first == absl::string_view::npos) return std::nullopt;
  const size_t second = envelope.find('.', first + 1);
  if (second == absl::string_view::npos) return std::nullopt;
  return EnvelopeParts{envelope.substr(0, first), envelope.substr(first + 1, second - first - 1),
                       envelope.substr(second + 1), envelope.substr(0, second + 1)};
}

// Key bytes decoded from configuration, wiped when they go out of scope.
class DecodedKey {
 public:
  DecodedKey() = default;
  DecodedKey(const DecodedKey&) = delete;
  DecodedKey& operator=(const DecodedKey&) = delete;
  ~DecodedKey() {
    // The decoder may have shrunk the string; wipe all it ever held.
    bytes_.resize(bytes_.capacity());
    OPENSSL_cleanse(bytes_.data(), bytes_.size());
  }

  // False if `text` is not base64.
  bool Decode(absl::string_view text) {
    return absl::Base64Unescape(absl::StripAsciiWhitespace(text), &bytes_);
  }
  absl::string_view bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

}  // namespace

struct Keyring::Material {
  struct Entry {
    std::string id;
    internal::Key key;
  };

  Material() = default;
  Material(const Material&) = delete;
  Material& operator=(const Material&) = delete;
  ~Material() {
    for (Entry& entry : keys) OPENSSL_cleanse(entry.key.data(), entry.key.size());
    OPENSSL_cleanse(index_key.data(), index_key.size());
  }

  const Entry* Find(absl::string_view id) const {
    for (const Entry& entry : keys) {
      if (entry.id == id) return &entry;
    }
    return nullptr;
  }

  // Reserved before filling: growing would leave copies of keys in freed memory.
  std::vector<Entry> keys;
  const Entry* active = nullptr;  // into `keys`, which does not change after Parse
  std::string index_key;
};

Keyring::Keyring(std::shared_ptr<const Material> material) : material_(std::move(material)) {}

absl::StatusOr<Keyring> Keyring::Parse(absl::string_view keys, absl::string_view active_key_id,
                                       absl::string_view index_key) {
  const std::vector<absl::string_view> entries = absl::StrSplit(keys, ',', absl::SkipWhitespace());
  if (entries.empty()) return Invalid("keys", "no encryption key configured");
  auto material = std::make_shared<Material>();
  material->keys.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const size_t colon = entries[i].find(':');
    const absl::string_view id = absl::StripAsciiWhitespace(entries[i].substr(0, colon));
    if (colon == absl::string_view::npos || !IsKeyId(id)) {
      // The entry itself is not quoted: it may be key material.
      return Invalid("keys", absl::StrCat("entry ", i + 1,
                                          " is not <key_id>:<base64 key> with a key id of 1-16 "
                                          "letters, digits, '_' or '-'"));
    }
    if (material->Find(id) != nullptr) {
      return Invalid("keys", absl::StrCat("key ", id, " is listed twice"));
    }
    DecodedKey key;
    if (!key.Decode(entries[i].substr(colon + 1))) {
      return Invalid("keys", absl::StrCat("key ", id, " is not valid base64"));
    }
    if (key.bytes().size() != internal::kKeyBytes) {
      return Invalid("keys", absl::StrCat("key ", id, " must decode to ", internal::kKeyBytes,
                                          " bytes (got ", key.bytes().size(), ")"));
    }
    Material::Entry& entry = material->keys.emplace_back();
    entry.id = std::string(id);
    std::copy(key.bytes().begin(), key.bytes().end(), entry.key.begin());
  }

  const absl::string_view active = absl::StripAsciiWhitespace(active_key_id);
  if (active.empty()) return Invalid("active_key_id", "required");
  if (!IsKeyId(active)) {
    return Invalid("active_key_id", "not a key id (1-16 letters, digits, '_' or '-')");
  }
  material->active = material->Find(active);
  if (material->active == nullptr) {
    return Invalid("active_key_id", absl::StrCat(active, " is not one of the configured keys"));
  }

  DecodedKey index;
  if (absl::StripAsciiWhitespace(index_key).empty()) return Invalid("index_key", "required");
  if (!index.Decode(index_key)) return Invalid("index_key", "not valid base64");
  if (index.bytes().size() < kMinIndexKeyBytes) {
    return Invalid("index_key", absl::StrCat("must decode to at least ", kMinIndexKeyBytes,
                                             " bytes (got ", index.bytes().size(), ")"));
  }
  // One key for two algorithms would tie the index to an encryption key's rotation and
  // weaken the separation of the two uses.
  for (const Material::Entry& entry : material->keys) {
    if (index.bytes() ==
        absl::string_view(reinterpret_cast<const char*>(entry.key.data()), entry.key.size())) {
      return Invalid("index_key",
                     absl::StrCat("must differ from every encryption key (equals ", entry.id, ")"));
    }
  }
  material->index_key = std::string(index.bytes());
  return Keyring(std::move(material));
}

std::string Keyring::GenerateKeyText() {
  std::string key = internal::RandomBytes(internal::kKeyBytes);
  std::string text = absl::Base64Escape(key);
  OPENSSL_cleanse(key.data(), key.size());
  return text;
}

absl::string_view Keyring::active_key_id() const { return material_->active->id; }

absl::StatusOr<std::string> Keyring::Encrypt(absl::string_view plaintext,
                                             absl::string_view associated_data) const {
  const Material::Entry& key = *material_->active;
  const std::string header = absl::StrCat(kVersion, ".", key.id, ".");
  ASSIGN_OR_RETURN(const std::string sealed,
                   internal::Seal(key.key, plaintext, absl::StrCat(header, associated_data)));
  return absl::StrCat(header, absl::WebSafeBase64Escape(sealed));
}

absl::StatusOr<std::string> Keyring::Decrypt(absl::string_view envelope,
                                             absl::string_view associated_data) const {
  const std::optional<EnvelopeParts> parts = SplitEnvelope(envelope);
  if (parts.has_value() && parts->version != kVersion && IsVersion(parts->version)) {
    return absl::FailedPreconditionError(
        absl::StrCat("envelope format ", parts->version, " is not supported by this release"));
  }
  if (!parts.has_value() || parts->version != kVersion || !IsKeyId(parts->key_id) ||
      !IsBase64Url(parts->payload)) {
    return absl::DataLossError("not an encrypted envelope");
  }
  const Material::Entry* key = material_->Find(parts->key_id);
  if (key == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("key ", parts->key_id, " is not configured"));
  }
  std::string sealed;
  if (!absl::WebSafeBase64Unescape(parts->payload, &sealed)) {
    return absl::DataLossError("envelope payload is not base64url");
  }
  return internal::Open(key->key, sealed, absl::StrCat(parts->header, associated_data));
}

bool Keyring::NeedsRotation(absl::string_view envelope) const {
  const std::optional<EnvelopeParts> parts = SplitEnvelope(envelope);
  return !parts.has_value() || parts->version != kVersion || parts->key_id != material_->active->id;
}

std::string Keyring::BlindIndex(absl::string_view purpose,
                                absl::string_view normalized_value) const {
  return absl::BytesToHexString(internal::HmacSha256(
      material_->index_key, absl::StrCat(purpose, absl::string_view("\0", 1), normalized_value)));
}

}  // namespace gridloop::pii
