#include "publish/file_output.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ocsf_schema.hpp"
#include "publish/kafka_output.hpp"
#include "publish/publish_test_util.hpp"

namespace portscand {
namespace {

using namespace std::chrono_literals;
using test::test_alerts;

class FileOutput : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/portscand-file-output-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/alerts.jsonl";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  file_output_config cfg(std::string path = "") const {
    file_output_config c;
    c.path = path.empty() ? path_ : path;
    c.fsync = true;
    return c;
  }

  static std::vector<std::string> lines_of(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  static std::string contents(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::uint64_t failures(const std::string& reason) const {
    return m_.counter_sum("portscand_alert_delivery_failures_total",
                          {{"output", "file-test"}, {"reason", reason}});
  }
  std::uint64_t delivered() const {
    return m_.counter_sum("portscand_alerts_delivered_total", {{"output", "file-test"}});
  }

  std::string dir_, path_;
  metrics_registry m_;
};

TEST_F(FileOutput, AppendsOneValidJsonLinePerAlertAndCreatesTheFile0640) {
  const mode_t old_umask = ::umask(022);
  {
    file_output out("file-test", output_schema::native, cfg(), m_);
    ASSERT_TRUE(out.publish(test_alerts(0, 2)));
    EXPECT_EQ(out.pending(), 2u) << "publish() queues; poll() writes";
    out.poll();
    EXPECT_EQ(out.pending(), 0u);
    EXPECT_TRUE(out.healthy());
  }
  ::umask(old_umask);
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  {
    // A second run appends, it does not truncate.
    file_output out("file-test", output_schema::ocsf, cfg(), m_);
    ASSERT_TRUE(out.publish(test_alerts(2, 1)));
    ASSERT_TRUE(out.flush(1s));
  }
  const auto lines = lines_of(path_);
  ASSERT_EQ(lines.size(), 3u);
  const auto expected = test_alerts(0, 3);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto j = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(j["alert_id"], expected[i].alert_id);
    EXPECT_EQ(j["schema"], "portscand.alert.v1");
  }
  EXPECT_EQ(nlohmann::json::parse(lines[2])["finding_info"]["uid"], expected[2].alert_id);
  EXPECT_EQ(test::detection_finding_problems(nlohmann::json::parse(lines[2])), "");
  EXPECT_EQ(delivered(), 3u);
  EXPECT_EQ(contents(path_).back(), '\n');
}

TEST_F(FileOutput, UnopenablePathIsAStartupErrorNamingThePath) {
  const std::string bad = dir_ + "/no/such/dir/alerts.jsonl";
  try {
    file_output out("file-test", output_schema::native, cfg(bad), m_);
    FAIL() << "a path that cannot be opened must fail at construction";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(bad), std::string::npos) << msg;
    EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
  }
}

TEST_F(FileOutput, WriteErrorKeepsAlertsPendingAndIsCounted) {
  // /dev/full: every write fails with ENOSPC, like a full disk.
  file_output out("file-test", output_schema::native, cfg("/dev/full"), m_);
  ASSERT_TRUE(out.publish(test_alerts(0, 3)));
  out.poll();
  EXPECT_EQ(out.pending(), 3u);
  EXPECT_FALSE(out.healthy());
  EXPECT_EQ(failures("write:ENOSPC"), 1u);
  out.poll();  // retried on every poll, counted each time
  EXPECT_EQ(failures("write:ENOSPC"), 2u);
  EXPECT_FALSE(out.flush(50ms));
  EXPECT_EQ(out.pending(), 3u);
  EXPECT_EQ(delivered(), 0u);
  EXPECT_EQ(m_.get_gauge("portscand_alerts_pending", "", {{"output", "file-test"}}).value(), 3.0);
}

TEST_F(FileOutput, PartialWriteIsCompletedWithoutABrokenLine) {
  // RLIMIT_FSIZE makes the kernel accept part of a write and fail the rest with EFBIG: a
  // real partial write on a real file.
  std::signal(SIGXFSZ, SIG_IGN);
  file_output out("file-test", output_schema::native, cfg(), m_);
  ASSERT_TRUE(out.publish(test_alerts(0, 1)));
  out.poll();
  ASSERT_EQ(out.pending(), 0u);
  const auto size = std::filesystem::file_size(path_);

  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  rlimit limited = saved;
  limited.rlim_cur = size + size + size / 2;  // one more line and half of the next
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
  ASSERT_TRUE(out.publish(test_alerts(1, 3)));
  out.poll();
  const auto torn_size = std::filesystem::file_size(path_);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &saved), 0);

  EXPECT_EQ(torn_size, limited.rlim_cur) << "the kernel took part of the batch";
  EXPECT_EQ(out.pending(), 3u) << "the batch stays pending until it is whole";
  EXPECT_EQ(failures("write:EFBIG"), 1u);
  EXPECT_FALSE(out.healthy());

  out.poll();
  EXPECT_EQ(out.pending(), 0u);
  EXPECT_TRUE(out.healthy());
  const auto lines = lines_of(path_);
  ASSERT_EQ(lines.size(), 4u);
  const auto expected = test_alerts(0, 4);
  for (std::size_t i = 0; i < lines.size(); ++i)
    EXPECT_EQ(nlohmann::json::parse(lines[i])["alert_id"], expected[i].alert_id) << lines[i];
}

TEST_F(FileOutput, TornLastLineFromACrashIsClosedBeforeAppending) {
  { std::ofstream(path_) << "{\"alert_id\": \"torn"; }
  file_output out("file-test", output_schema::native, cfg(), m_);
  ASSERT_TRUE(out.publish(test_alerts(0, 1)));
  ASSERT_TRUE(out.flush(1s));
  const auto lines = lines_of(path_);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "{\"alert_id\": \"torn");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["alert_id"], test::test_alert(0).alert_id);
}

TEST_F(FileOutput, RenamedFileIsReplacedByANewOneAtThePath) {
  // logrotate without copytruncate renames the file; alerts must go to the new one.
  file_output out("file-test", output_schema::native, cfg(), m_);
  ASSERT_TRUE(out.publish(test_alerts(0, 1)));
  ASSERT_TRUE(out.flush(1s));
  std::filesystem::rename(path_, path_ + ".1");
  ASSERT_TRUE(out.publish(test_alerts(1, 1)));
  ASSERT_TRUE(out.flush(1s));
  EXPECT_EQ(lines_of(path_ + ".1").size(), 1u);
  ASSERT_EQ(lines_of(path_).size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(lines_of(path_)[0])["alert_id"], test::test_alert(1).alert_id);
}

TEST_F(FileOutput, DashWritesToStdout) {
  const std::string captured = dir_ + "/stdout.txt";
  const int saved = ::dup(STDOUT_FILENO);
  const int fd = ::open(captured.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  ::dup2(fd, STDOUT_FILENO);
  ::close(fd);
  {
    file_output out("file-test", output_schema::native, cfg("-"), m_);
    ASSERT_TRUE(out.publish(test_alerts(0, 2)));
    out.poll();
    EXPECT_EQ(out.pending(), 0u);
  }
  ::dup2(saved, STDOUT_FILENO);
  ::close(saved);
  EXPECT_EQ(lines_of(captured).size(), 2u);
}

TEST_F(FileOutput, BoundedQueueRefusesWholeBatchesBeyondMaxPending) {
  file_output out("file-test", output_schema::native, cfg("/dev/full"), m_, 4);
  EXPECT_TRUE(out.publish(test_alerts(0, 3)));
  out.poll();  // fails: the batch is in flight and still counts
  EXPECT_FALSE(out.publish(test_alerts(3, 2)));
  EXPECT_TRUE(out.publish(test_alerts(3, 1)));
  EXPECT_EQ(out.pending(), 4u);
  EXPECT_FALSE(out.publish(test_alerts(4, 1)));
}

TEST(MakeOutput, PicksTheImplementationFromTheConfig) {
  metrics_registry m;
  output_config file;
  file.name = "stdout-0";
  file.sink = file_output_config{"-", false};
  auto a = make_output(file, m);
  EXPECT_NE(dynamic_cast<file_output*>(a.get()), nullptr);
  EXPECT_EQ(a->name(), "stdout-0");

  output_config kafka;
  kafka.name = "kafka-0";
  kafka_output_config k;
  k.brokers = "127.0.0.1:1";  // never contacted: librdkafka connects lazily
  k.topic = "alerts";
  kafka.sink = k;
  auto b = make_output(kafka, m);
  EXPECT_NE(dynamic_cast<kafka_output*>(b.get()), nullptr);
  EXPECT_EQ(b->name(), "kafka-0");
}

}  // namespace
}  // namespace portscand
