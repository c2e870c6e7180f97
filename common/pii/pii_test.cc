#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/pii/id_number.h"
#include "common/pii/keyring.h"
#include "common/pii/masking.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gridloop::pii {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

constexpr absl::string_view kIdField = "resident.id_number";
constexpr absl::string_view kPhoneField = "resident.phone";

// 2025-06-15 12:00 UTC is 20:00 the same day in China.
const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2025, 6, 15, 12, 0, 0), absl::UTCTimeZone());

void ExpectBadId(absl::string_view raw, absl::string_view why, absl::Time now = kNow) {
  const absl::StatusOr<std::string> id = NormalizeIdNumber(kIdField, raw, now);
  ASSERT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument) << raw;
  EXPECT_THAT(std::string(id.status().message()), StartsWith(absl::StrCat(kIdField, ": ")));
  EXPECT_THAT(std::string(id.status().message()), HasSubstr(why)) << raw;
  if (raw.size() > 6) {
    // The message goes to logs: it must not carry the number.
    EXPECT_THAT(std::string(id.status().message()), Not(HasSubstr(raw.substr(6))));
  }
}

TEST(IdNumber, AcceptsValidNumbers) {
  for (const char* valid :
       {"11010519491231002X", "440304199001011233", "310115200002294567", "510108198001010001"}) {
    const absl::StatusOr<std::string> id = NormalizeIdNumber(kIdField, valid, kNow);
    ASSERT_TRUE(id.ok()) << valid << ": " << id.status();
    EXPECT_EQ(*id, valid);
  }
}

TEST(IdNumber, TrimsAndUpperCasesTheCheckCharacter) {
  EXPECT_EQ(*NormalizeIdNumber(kIdField, " 11010519491231002x\t", kNow), "11010519491231002X");
}

TEST(IdNumber, RejectsWrongLength) {
  ExpectBadId("", "required");
  ExpectBadId("   ", "required");
  ExpectBadId("1101051949123100", "18 characters (got 16)");
  ExpectBadId("11010519491231002X0", "18 characters (got 19)");
}

TEST(IdNumber, RejectsBadCharacters) {
  ExpectBadId("11010519491231002Y", "17 digits followed by a digit or X");
  ExpectBadId("1101051949123100XX", "17 digits followed by a digit or X");
  ExpectBadId("11010519491231 02X", "17 digits followed by a digit or X");
  ExpectBadId("X10105194912310023", "17 digits followed by a digit or X");
}

TEST(IdNumber, RejectsImpossibleBirthDates) {
  // Each has the right check character, so only the date is wrong.
  ExpectBadId("110105199902301237", "not a calendar date");  // February 30
  ExpectBadId("110105199913011235", "not a calendar date");  // month 13
  ExpectBadId("110105199900011236", "not a calendar date");  // month 0
  ExpectBadId("110105189912311237", "1900 or later");
}

TEST(IdNumber, RejectsBirthDatesAfterTodayInChina) {
  ExpectBadId("110105203001011231", "in the future");
  ExpectBadId("110105202506160019", "in the future");
  EXPECT_TRUE(NormalizeIdNumber(kIdField, "110105202506150013", kNow).ok());
  // 16:30 UTC is already the 16th in China.
  const absl::Time after_midnight_in_china =
      absl::FromCivil(absl::CivilSecond(2025, 6, 15, 16, 30, 0), absl::UTCTimeZone());
  EXPECT_TRUE(NormalizeIdNumber(kIdField, "110105202506160019", after_midnight_in_china).ok());
}

TEST(IdNumber, RejectsAWrongCheckCharacter) {
  ExpectBadId("110105194912310021", "check character does not match");
  ExpectBadId("110105194912310039", "check character does not match");
  ExpectBadId("440304199001011234", "check character does not match");
}

TEST(IdNumber, TellsBirthDateAndGender) {
  EXPECT_EQ(BirthDateOf("11010519491231002X"), absl::CivilDay(1949, 12, 31));
  EXPECT_EQ(GenderOf("11010519491231002X"), Gender::kFemale);
  EXPECT_EQ(BirthDateOf("440304199001011233"), absl::CivilDay(1990, 1, 1));
  EXPECT_EQ(GenderOf("440304199001011233"), Gender::kMale);
  EXPECT_EQ(BirthDateOf("310115200002294567"), absl::CivilDay(2000, 2, 29));
  EXPECT_EQ(GenderOf("310115200002294567"), Gender::kFemale);
}

TEST(IdNumber, HelpersAreSafeOnAnythingElse) {
  EXPECT_EQ(BirthDateOf(""), absl::CivilDay());
  EXPECT_EQ(BirthDateOf("110105abcdefgh"), absl::CivilDay());
  EXPECT_EQ(GenderOf(""), Gender::kFemale);
  EXPECT_EQ(GenderOf("1101051949123100"), Gender::kFemale);
}

TEST(Mobile, AcceptsCommonWritings) {
  for (const char* raw : {"13800138000", "138 0013 8000", "138-0013-8000", "+86 138 0013 8000",
                          "8613800138000", " +86-13800138000 "}) {
    const absl::StatusOr<std::string> phone = NormalizeMobile(kPhoneField, raw);
    ASSERT_TRUE(phone.ok()) << raw << ": " << phone.status();
    EXPECT_EQ(*phone, "13800138000");
  }
  EXPECT_EQ(*NormalizeMobile(kPhoneField, "19912345678"), "19912345678");
}

TEST(Mobile, RejectsOthersNamingTheField) {
  for (const char* raw : {"", "12800138000", "1380013800", "138001380001", "+1 4155550100",
                          "138O0138000", "+86 1380013800", "008613800138000", "++8613800138000",
                          "１３８００１３８０００", "23800138000"}) {
    const absl::StatusOr<std::string> phone = NormalizeMobile(kPhoneField, raw);
    ASSERT_EQ(phone.status().code(), absl::StatusCode::kInvalidArgument) << raw;
    EXPECT_THAT(std::string(phone.status().message()), StartsWith("resident.phone: ")) << raw;
  }
}

TEST(Masking, IdNumberKeepsRegionAndLastFour) {
  EXPECT_EQ(MaskIdNumber("110105194912311234"), "110105********1234");
  EXPECT_EQ(MaskIdNumber("11010519491231002X"), "110105********002X");
  EXPECT_EQ(MaskIdNumber("110105491231002"), "110105*****1002");  // first-generation card
}

TEST(Masking, IdNumberHidesAnythingUnexpected) {
  EXPECT_EQ(MaskIdNumber(""), "");
  EXPECT_EQ(MaskIdNumber("12345"), "*****");
  EXPECT_EQ(MaskIdNumber("11010519491231"), std::string(14, '*'));
  EXPECT_EQ(MaskIdNumber("11010519491231002x"), std::string(18, '*'));
  EXPECT_EQ(MaskIdNumber("张三"), "******");
}

TEST(Masking, Phone) {
  EXPECT_EQ(MaskPhone("13812345678"), "138****5678");
  EXPECT_EQ(MaskPhone(""), "");
  EXPECT_EQ(MaskPhone("1234567"), "*******");
  EXPECT_EQ(MaskPhone("1381234567"), "**********");
  EXPECT_EQ(MaskPhone("138-1234-5678"), std::string(13, '*'));
}

TEST(Masking, NameKeepsTheFirstCharacter) {
  EXPECT_EQ(MaskName("张三丰"), "张**");
  EXPECT_EQ(MaskName("张三"), "张*");
  EXPECT_EQ(MaskName("欧阳娜娜"), "欧***");
  EXPECT_EQ(MaskName("Li Lei"), "L*****");
  EXPECT_EQ(MaskName("\xF0\x9F\x98\x80"
                     "ab"),
            "\xF0\x9F\x98\x80**");  // a 4-byte character
  EXPECT_EQ(MaskName("é李"), "é*");
}

TEST(Masking, NameHidesShortAndMalformedInput) {
  EXPECT_EQ(MaskName(""), "");
  EXPECT_EQ(MaskName("张"), "*");
  EXPECT_EQ(MaskName("A"), "*");
  EXPECT_EQ(MaskName("\xFF\xFE"), "**");
  EXPECT_EQ(MaskName("\xE5\xBC"), "**");       // truncated 张
  EXPECT_EQ(MaskName("张\xE5\xBC"), "*****");  // truncated at the end
  EXPECT_EQ(MaskName("\xC0\xAF"
                     "b"),
            "***");  // overlong '/'
  EXPECT_EQ(MaskName("\xED\xA0\x80"
                     "b"),
            "****");                                // a surrogate
  EXPECT_EQ(MaskName("\xF4\x90\x80\x80"), "****");  // past U+10FFFF
}

// Fixed keys keep the tests deterministic; only nonces are random.
std::string KeyText(char fill, size_t size = 32) {
  return absl::Base64Escape(std::string(size, fill));
}

const std::string kIndexKey = KeyText('\x7f');

Keyring MustParse(absl::string_view keys, absl::string_view active,
                  absl::string_view index_key = kIndexKey) {
  absl::StatusOr<Keyring> keyring = Keyring::Parse(keys, active, index_key);
  EXPECT_TRUE(keyring.ok()) << keyring.status();
  return *std::move(keyring);
}

const std::string kK1 = absl::StrCat("k1:", KeyText('\x01'));
const std::string kK2 = absl::StrCat("k2:", KeyText('\x02'));
constexpr absl::string_view kAd = "resident/r1/id_number";

// The envelope with its payload bytes passed through `edit`.
template <typename Edit>
std::string EditPayload(absl::string_view envelope, Edit edit) {
  const size_t dot = envelope.rfind('.');
  std::string payload;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(envelope.substr(dot + 1), &payload));
  edit(payload);
  return absl::StrCat(envelope.substr(0, dot + 1), absl::WebSafeBase64Escape(payload));
}

TEST(Keyring, RoundTrips) {
  const Keyring keyring = MustParse(kK1, "k1");
  EXPECT_EQ(keyring.active_key_id(), "k1");
  for (const std::string& plaintext : {std::string("11010519491231002X"), std::string(),
                                       std::string("张三丰"), std::string(1000, 'a')}) {
    const absl::StatusOr<std::string> envelope = keyring.Encrypt(plaintext, kAd);
    ASSERT_TRUE(envelope.ok()) << envelope.status();
    EXPECT_THAT(*envelope, MatchesRegex("v1\\.k1\\.[A-Za-z0-9_-]+"));
    EXPECT_THAT(*envelope, Not(HasSubstr("1949")));
    EXPECT_EQ(*keyring.Decrypt(*envelope, kAd), plaintext);
  }
  const absl::StatusOr<std::string> no_ad = keyring.Encrypt("x", "");
  EXPECT_EQ(*keyring.Decrypt(*no_ad, ""), "x");
}

TEST(Keyring, DecryptsTheDocumentedFormat) {
  // Made independently of this code: nonce 00..0b, key 32 x 0x01, associated data
  // "v1.k1." + "resident/r1/name".
  const Keyring keyring = MustParse(kK1, "k1");
  EXPECT_EQ(*keyring.Decrypt("v1.k1.AAECAwQFBgcICQoLXho1wph34sFO2IcAFU3-BOwx-whQ2-0XJw",
                             "resident/r1/name"),
            "张三丰");
}

TEST(Keyring, UsesAFreshNonceEachTime) {
  const Keyring keyring = MustParse(kK1, "k1");
  const std::string a = *keyring.Encrypt("13800138000", kAd);
  const std::string b = *keyring.Encrypt("13800138000", kAd);
  EXPECT_NE(a, b);
  std::string nonce_a;
  std::string nonce_b;
  EditPayload(a, [&](std::string& p) { nonce_a = p.substr(0, 12); });
  EditPayload(b, [&](std::string& p) { nonce_b = p.substr(0, 12); });
  EXPECT_NE(nonce_a, nonce_b);
  EXPECT_EQ(*keyring.Decrypt(a, kAd), *keyring.Decrypt(b, kAd));
}

TEST(Keyring, BindsTheCiphertextToItsRecordAndField) {
  const Keyring keyring = MustParse(kK1, "k1");
  const std::string envelope = *keyring.Encrypt("11010519491231002X", kAd);
  for (const char* other : {"resident/r2/id_number", "resident/r1/phone", ""}) {
    EXPECT_EQ(keyring.Decrypt(envelope, other).status().code(), absl::StatusCode::kDataLoss)
        << other;
  }
}

TEST(Keyring, DetectsTampering) {
  const Keyring keyring = MustParse(absl::StrCat(kK1, ",", kK2), "k1");
  const std::string envelope = *keyring.Encrypt("11010519491231002X", kAd);
  const size_t payload_bytes = 12 + 18 + 16;
  for (size_t i = 0; i < payload_bytes; ++i) {  // nonce, ciphertext and tag
    const std::string flipped = EditPayload(envelope, [i](std::string& p) { p[i] ^= 0x01; });
    const absl::Status status = keyring.Decrypt(flipped, kAd).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << "byte " << i;
    EXPECT_THAT(std::string(status.message()), HasSubstr("does not authenticate"));
  }
  const std::string truncated = EditPayload(envelope, [](std::string& p) { p.resize(27); });
  EXPECT_EQ(keyring.Decrypt(truncated, kAd).status().code(), absl::StatusCode::kDataLoss);
  // Naming another configured key does not make the envelope decrypt under it.
  std::string relabelled = envelope;
  relabelled.replace(0, 6, "v1.k2.");
  EXPECT_EQ(keyring.Decrypt(relabelled, kAd).status().code(), absl::StatusCode::kDataLoss);
}

TEST(Keyring, RejectsWhatIsNotAnEnvelope) {
  const Keyring keyring = MustParse(kK1, "k1");
  for (const char* bad : {"", "11010519491231002X", "v1.k1", "v1..AAAA", "x1.k1.AAAA",
                          "v1.k1.AA AA", "v1.k1.AAAA====", "v1.k1.!!!!", "v1.k1.k1.AAAA"}) {
    EXPECT_EQ(keyring.Decrypt(bad, kAd).status().code(), absl::StatusCode::kDataLoss) << bad;
  }
  const absl::Status newer = keyring.Decrypt("v2.k1.AAAA", kAd).status();
  EXPECT_EQ(newer.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(newer.message()), HasSubstr("v2"));
}

TEST(Keyring, RotatesKeys) {
  const Keyring old_ring = MustParse(kK1, "k1");
  const std::string old_envelope = *old_ring.Encrypt("13800138000", kAd);
  EXPECT_FALSE(old_ring.NeedsRotation(old_envelope));

  const Keyring rotated = MustParse(absl::StrCat(kK1, ",", kK2), "k2");
  EXPECT_EQ(*rotated.Decrypt(old_envelope, kAd), "13800138000");
  EXPECT_TRUE(rotated.NeedsRotation(old_envelope));
  const std::string new_envelope = *rotated.Encrypt("13800138000", kAd);
  EXPECT_THAT(new_envelope, StartsWith("v1.k2."));
  EXPECT_FALSE(rotated.NeedsRotation(new_envelope));
  EXPECT_TRUE(rotated.NeedsRotation("not an envelope"));

  // A copy shares the key material and outlives the original.
  std::optional<Keyring> copy;
  {
    const Keyring original = MustParse(absl::StrCat(kK1, ",", kK2), "k2");
    copy.emplace(original);
  }
  EXPECT_EQ(*copy->Decrypt(new_envelope, kAd), "13800138000");

  const Keyring retired = MustParse(kK2, "k2");
  EXPECT_EQ(*retired.Decrypt(new_envelope, kAd), "13800138000");
  const absl::Status gone = retired.Decrypt(old_envelope, kAd).status();
  EXPECT_EQ(gone.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(gone.message(), "key k1 is not configured");
}

TEST(Keyring, ParseToleratesSpacing) {
  const Keyring keyring =
      MustParse(absl::StrCat(" k1 : ", KeyText('\x01'), " , k_2-B:", KeyText('\x02'), ","),
                " k_2-B ", absl::StrCat(" ", kIndexKey, "\n"));
  EXPECT_EQ(keyring.active_key_id(), "k_2-B");
}

TEST(Keyring, ParseNamesWhatIsWrongWithoutShowingKeys) {
  const std::string k1_text = KeyText('\x01');
  struct Case {
    std::string keys;
    std::string active;
    std::string index_key;
    std::string expected;
  };
  const Case cases[] = {
      {"", "k1", kIndexKey, "keys: no encryption key configured"},
      {" , ", "k1", kIndexKey, "keys: no encryption key configured"},
      {k1_text, "k1", kIndexKey, "keys: entry 1 is not <key_id>:<base64 key>"},
      {absl::StrCat(kK1, ",:", k1_text), "k1", kIndexKey, "keys: entry 2 is not"},
      {absl::StrCat("bad.id:", k1_text), "k1", kIndexKey, "keys: entry 1 is not"},
      {absl::StrCat("k23456789012345678:", k1_text), "k1", kIndexKey, "keys: entry 1 is not"},
      {"k1:not*base64", "k1", kIndexKey, "keys: key k1 is not valid base64"},
      {absl::StrCat("k1:", KeyText('\x01', 16)), "k1", kIndexKey,
       "keys: key k1 must decode to 32 bytes (got 16)"},
      {absl::StrCat(kK1, ",k1:", KeyText('\x02')), "k1", kIndexKey, "keys: key k1 is listed twice"},
      {kK1, "", kIndexKey, "active_key_id: required"},
      {kK1, "k3", kIndexKey, "active_key_id: k3 is not one of the configured keys"},
      {kK1, k1_text, kIndexKey, "active_key_id: not a key id"},
      {kK1, "k1", "", "index_key: required"},
      {kK1, "k1", "***", "index_key: not valid base64"},
      {kK1, "k1", KeyText('\x7f', 16), "index_key: must decode to at least 32 bytes (got 16)"},
      {kK1, "k1", KeyText('\x01'), "index_key: must differ from every encryption key"},
  };
  for (const Case& c : cases) {
    const absl::StatusOr<Keyring> keyring = Keyring::Parse(c.keys, c.active, c.index_key);
    ASSERT_EQ(keyring.status().code(), absl::StatusCode::kInvalidArgument) << c.expected;
    const std::string message(keyring.status().message());
    EXPECT_THAT(message, StartsWith(c.expected));
    EXPECT_THAT(message, Not(HasSubstr(k1_text.substr(0, 8))));
    EXPECT_THAT(message, Not(HasSubstr(kIndexKey.substr(0, 8))));
  }
}

TEST(Keyring, GeneratesUsableKeys) {
  const std::string a = Keyring::GenerateKeyText();
  const std::string b = Keyring::GenerateKeyText();
  EXPECT_NE(a, b);
  std::string bytes;
  ASSERT_TRUE(absl::Base64Unescape(a, &bytes));
  EXPECT_EQ(bytes.size(), 32);
  const Keyring keyring = MustParse(absl::StrCat("new:", a), "new");
  EXPECT_EQ(*keyring.Decrypt(*keyring.Encrypt("x", kAd), kAd), "x");
}

TEST(BlindIndex, IsAStableKeyedDigest) {
  const Keyring keyring = MustParse(kK1, "k1");
  const std::string index = keyring.BlindIndex("phone", "13800138000");
  // HMAC-SHA256 under 32 x 0x7f of "phone\0" "13800138000", computed independently: a
  // change here orphans every stored index entry.
  EXPECT_EQ(index, "a7428de60b7609a4ddc968730ea4e948b46a09ff7316fb90d0ddf41c6af0e4d8");
  EXPECT_EQ(keyring.BlindIndex("phone", "13800138000"), index);
  // The index key does not rotate with the encryption keys.
  EXPECT_EQ(MustParse(kK2, "k2").BlindIndex("phone", "13800138000"), index);
}

TEST(BlindIndex, DiffersByPurposeValueAndKey) {
  const Keyring keyring = MustParse(kK1, "k1");
  const std::string index = keyring.BlindIndex("phone", "13800138000");
  EXPECT_NE(keyring.BlindIndex("id_number", "13800138000"), index);
  EXPECT_NE(keyring.BlindIndex("phone", "13800138001"), index);
  EXPECT_NE(keyring.BlindIndex("ab", "c"), keyring.BlindIndex("a", "bc"));
  EXPECT_NE(MustParse(kK1, "k1", KeyText('\x7e')).BlindIndex("phone", "13800138000"), index);
}

}  // namespace
}  // namespace gridloop::pii
