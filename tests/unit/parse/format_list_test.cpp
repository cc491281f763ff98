// lib/parse/formats.def is the one list of built-in formats: registration, the fuzz targets
// and the parse benchmarks are generated from it. These tests hold it to what the generated
// code and the repository assume.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "parse/registry.hpp"

namespace portscand::test {
namespace {

enum class list_scope { json_only, json, text_only, plain };

struct listed_format {
  std::string_view id, name;
  list_scope scope;
  std::string_view bench_fixture;
};

const std::vector<listed_format>& listed() {
  static const std::vector<listed_format> formats = {
#define PORTSCAND_FORMAT(id, name, factory, scope, bench_fixture) \
  {#id, name, list_scope::scope, bench_fixture},
#include "parse/formats.def"
#undef PORTSCAND_FORMAT
  };
  return formats;
}

const std::filesystem::path fixtures = PORTSCAND_FIXTURES;

TEST(FormatList, RegistryHoldsTheListInItsOrder) {
  const auto& entries = builtin_formats().entries();
  ASSERT_EQ(entries.size(), listed().size());
  for (std::size_t i = 0; i < entries.size(); ++i)
    EXPECT_EQ(entries[i].name, listed()[i].name) << "probe order, position " << i;
}

TEST(FormatList, ScopeIsWhatTheListSays) {
  for (const auto& f : listed()) {
    const format_entry* e = builtin_formats().find(f.name);
    ASSERT_NE(e, nullptr) << f.name;
    const bool reads_json = f.scope == list_scope::json_only || f.scope == list_scope::json;
    EXPECT_EQ(e->reads_json, reads_json) << f.name;
    const probe_scope scope = f.scope == list_scope::json_only   ? probe_scope::json
                              : f.scope == list_scope::text_only ? probe_scope::text
                                                                 : probe_scope::any;
    EXPECT_EQ(e->scope, scope) << f.name;
  }
}

TEST(FormatList, IdIsTheNameWithUnderscores) {
  for (const auto& f : listed()) {
    std::string id(f.name);
    for (char& c : id)
      if (c == '-') c = '_';
    EXPECT_EQ(f.id, id);
  }
}

TEST(FormatList, EveryFormatHasAFuzzCorpus) {
  for (const auto& f : listed()) {
    const auto dir = fixtures.parent_path() / "fuzz" / "corpus" / std::string(f.id);
    EXPECT_TRUE(std::filesystem::is_directory(dir)) << dir;
    EXPECT_FALSE(std::filesystem::is_empty(dir)) << dir;
  }
}

TEST(FormatList, EveryBenchFixtureExists) {
  for (const auto& f : listed()) {
    const auto file = fixtures / std::string(f.bench_fixture);
    EXPECT_TRUE(std::filesystem::is_regular_file(file)) << file;
    EXPECT_GT(std::filesystem::file_size(file), 0U) << file;
  }
}

}  // namespace
}  // namespace portscand::test
