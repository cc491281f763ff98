#include "parse/aws_vpc.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

#include "event/network_session.hpp"
#include "parse/json_util.hpp"
#include "parse/port.hpp"
#include "parse/probe_util.hpp"
#include "parse/tcp_flags.hpp"

namespace portscand {
namespace {

// A line longer than this many fields is not a flow record (AWS defines about 40 fields).
constexpr std::size_t max_fields = 64;

// The columns the daemon reads, by position in the line.
enum column : std::uint8_t {
  version,
  srcaddr,
  dstaddr,
  dstport,
  protocol,
  start,
  action,
  log_status,
  vpc_id,
  tcp_flags,
  column_count
};

struct layout {
  std::array<std::int8_t, column_count> pos;  // -1: the layout has no such column
  // Fields a data line must have: exactly this many for a header-given layout (a mismatch
  // means the line is not of that layout); at least this many for the default layout,
  // because v3+ records written without a header append their extra fields after the v2 ones.
  std::size_t fields;
  bool from_header;
};

// version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes
// start end action log-status
// start end action log-status (no tcp-flags: v3+ fields appended without a header have no
// known position)
constexpr layout default_layout{{0, 3, 4, 6, 7, 10, 12, 13, -1, -1}, 14, false};

// Field names AWS documents for custom formats. Only a line whose FIRST token is one of
// them is a header: a data line can start with a lower-case word too ("ingress" when
// flow-direction comes first), but never with a field name.
constexpr std::string_view known_names[] = {"version",
                                            "account-id",
                                            "interface-id",
                                            "srcaddr",
                                            "dstaddr",
                                            "srcport",
                                            "dstport",
                                            "protocol",
                                            "packets",
                                            "bytes",
                                            "start",
                                            "end",
                                            "action",
                                            "log-status",
                                            "vpc-id",
                                            "subnet-id",
                                            "instance-id",
                                            "tcp-flags",
                                            "type",
                                            "pkt-srcaddr",
                                            "pkt-dstaddr",
                                            "region",
                                            "az-id",
                                            "sublocation-type",
                                            "sublocation-id",
                                            "pkt-src-aws-service",
                                            "pkt-dst-aws-service",
                                            "flow-direction",
                                            "traffic-path",
                                            "ecs-cluster-arn",
                                            "ecs-cluster-name",
                                            "ecs-container-instance-arn",
                                            "ecs-container-instance-id",
                                            "ecs-container-id",
                                            "ecs-second-container-id",
                                            "ecs-service-name",
                                            "ecs-task-definition-arn",
                                            "ecs-task-arn",
                                            "ecs-task-id",
                                            "reject-reason",
                                            "resource-id",
                                            "encryption-status"};

// Field names compare with '_' and '-' as equals: Parquet/Athena exports spell them with '_'.
bool name_equals(std::string_view token, std::string_view name) noexcept {
  if (token.size() != name.size()) return false;
  for (std::size_t i = 0; i < token.size(); ++i) {
    const char c = token[i] == '_' ? '-' : token[i];
    if (c != name[i]) return false;
  }
  return true;
}

constexpr std::size_t longest_name = [] {
  std::size_t n = 0;
  for (auto name : known_names) n = std::max(n, std::string_view(name).size());
  return n;
}();

bool is_field_name(std::string_view token) noexcept {
  for (auto n : known_names)
    if (name_equals(token, n)) return true;
  return false;
}

bool all_digits(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// Splits on runs of spaces/tabs. Returns the field count, or max_fields + 1 when there are more.
std::size_t split_fields(std::string_view line,
                         std::array<std::string_view, max_fields>& out) noexcept {
  std::size_t n = 0;
  std::size_t i = 0;
  const std::size_t size = line.size();
  while (i < size) {
    while (i < size && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == size) break;
    const std::size_t begin = i;
    while (i < size && line[i] != ' ' && line[i] != '\t') ++i;
    if (n == max_fields) return max_fields + 1;
    out[n++] = line.substr(begin, i - begin);
  }
  return n;
}

class aws_vpc_parser final : public format_parser {
 public:
  aws_vpc_parser() : label_(labels_.reported_by("AWS", "VPC")) {}

  void parse(std::string_view unit, const parse_context& /*ctx*/, parse_sink& sink) override {
    const std::size_t n = split_fields(unit, fields_);
    if (n > max_fields) {
      sink.rejected("too_many_fields");
      return;
    }
    if (n == 0) {
      sink.skipped("empty");
      return;
    }
    if (is_field_name(fields_[0])) {
      read_header(n);
      sink.skipped("header");
      return;
    }
    if (layout_.from_header ? n != layout_.fields : n < layout_.fields) {
      sink.rejected(layout_.from_header ? "field_count_mismatch" : "too_few_fields");
      return;
    }
    // Without a header the line must be a default-format record, which starts with its
    // version number; anything else is a custom format whose header this input never saw.
    if (!layout_.from_header && !all_digits(fields_[0])) {
      sink.rejected("unknown_layout");
      return;
    }

    const std::string_view status = field(log_status);
    if (!status.empty() && status != "OK") {
      if (status == "NODATA")
        sink.skipped("nodata");
      else if (status == "SKIPDATA")
        sink.skipped("skipdata");
      else
        sink.rejected("bad_log_status");
      return;
    }

    network_session s;
    const std::string_view src = field(srcaddr);
    if (src.empty()) {
      sink.rejected("missing_src_ip");
      return;
    }
    if (auto ip = ip_address::parse(src)) {
      s.src = *ip;
    } else {
      sink.rejected("bad_src_ip");
      return;
    }
    if (auto ip = ip_address::parse(field(dstaddr))) {
      s.dst = *ip;
      s.has_dst = true;
    }

    const std::string_view proto = field(protocol);
    if (!proto.empty()) {
      std::int64_t p = 0;
      if (!json::parse_int64(proto, p) || p < 0 || p > 255) {
        sink.rejected("bad_protocol");
        return;
      }
      s.protocol = static_cast<std::uint16_t>(p);
    }

    const std::string_view port = field(dstport);
    if (!port.empty()) {
      // ICMP rows carry 0 here (ASIM keeps it; normalize() decides whether it counts).
      if (!parse_port(port, s.dst_port)) {
        sink.rejected("bad_dst_port");
        return;
      }
    }

    const std::string_view t = field(start);
    if (!t.empty()) {
      std::int64_t secs = 0;
      // Up to year 9999; anything larger is not epoch seconds (and would overflow in µs).
      if (!json::parse_int64(t, secs) || secs < 0 || secs > 253'402'300'799LL) {
        sink.rejected("bad_time");
        return;
      }
      s.time = secs * us_per_second;
      s.has_time = true;
    }

    // Which side sent the flow: only TCP flags tell (flow-direction is ingress/egress at the
    // interface, true of a request and of its answer alike). An unreadable value is not a
    // reason to lose the record: counted as an ignored field.
    if (const std::string_view flags = field(tcp_flags); !flags.empty() && s.protocol == 6) {
      std::int64_t f = 0;
      if (json::parse_int64(flags, f) && f >= 0 && f <= 0xffff)
        s.side = side_from_aws_tcp_flags(static_cast<std::uint32_t>(f));
      else
        sink.ignored_field("bad_tcp_flags");
    }

    const std::string_view act = field(action);
    if (act == "ACCEPT")
      s.action = dvc_action::allow;
    else if (act == "REJECT")
      s.action = dvc_action::deny;

    const std::string_view vpc = field(vpc_id);
    if (!vpc.empty()) s.device = labels_.get(vpc);

    s.reported_by = label_;
    sink.record(s);
  }

 private:
  // The field at a column's position; "" when the layout lacks it or the value is "-".
  std::string_view field(column c) const noexcept {
    const std::int8_t p = layout_.pos[c];
    if (p < 0) return {};
    // p >= 0 here (absent columns are -1, checked above).
    // NOLINTNEXTLINE(bugprone-signed-char-misuse)
    const std::string_view v = fields_[static_cast<std::size_t>(p)];
    return v == "-" ? std::string_view{} : v;
  }

  void read_header(std::size_t n) noexcept {
    static constexpr std::pair<column, std::string_view> wanted[] = {
        {version, "version"},    {srcaddr, "srcaddr"},       {dstaddr, "dstaddr"},
        {dstport, "dstport"},    {protocol, "protocol"},     {start, "start"},
        {action, "action"},      {log_status, "log-status"}, {vpc_id, "vpc-id"},
        {tcp_flags, "tcp-flags"}};
    layout l{};
    l.pos.fill(-1);
    l.fields = n;
    l.from_header = true;
    for (std::size_t i = 0; i < n; ++i)
      for (const auto& [col, name] : wanted)
        if (l.pos[col] < 0 && name_equals(fields_[i], name))
          l.pos[col] = static_cast<std::int8_t>(i);
    layout_ = l;
  }

  std::array<std::string_view, max_fields> fields_{};
  layout layout_ = default_layout;
  label_cache labels_;
  label_id label_;
};

// A token of `head` equal to `word` (space-delimited, or at either end).
bool has_token(std::string_view head, std::string_view word) noexcept {
  for (std::size_t p = probe_find(head, word); p != std::string_view::npos;
       p = probe_find(head, word, p + 1)) {
    const bool left = p == 0 || head[p - 1] == ' ';
    const std::size_t end = p + word.size();
    const bool right = end == head.size() || head[end] == ' ';
    if (left && right) return true;
  }
  return false;
}

// A header line: its first token is a documented field name. Replay runs this over every line
// of a file under auto, so it decides from the first byte (names start with a lowercase letter)
// and reads at most one name's length, never the whole line.
bool is_header_line(std::string_view line) noexcept {
  if (line.empty() || line[0] < 'a' || line[0] > 'z') return false;
  std::size_t end = 0;
  while (end < line.size() && end <= longest_name && line[end] != ' ' && line[end] != '\t') ++end;
  return end <= longest_name && is_field_name(line.substr(0, end));
}

bool probe_aws_vpc(std::string_view head) noexcept {
  if (head.starts_with("version ")) return has_token(head, "srcaddr");
  // A record starts with its version number (2..99), has many fields, and carries an
  // ACCEPT/REJECT action with an OK status, or a NODATA/SKIPDATA status. Custom layouts that
  // do not start with the version, or lack action/log-status, need the fixed format.
  std::size_t i = 0;
  while (i < head.size() && i < 2 && head[i] >= '0' && head[i] <= '9') ++i;
  if (i == 0 || i == head.size() || head[i] != ' ' || head[0] == '0' || (i == 1 && head[0] == '1'))
    return false;
  std::size_t spaces = 0;
  for (char c : head) spaces += c == ' ';
  if (spaces < 8) return false;
  return ((has_token(head, "ACCEPT") || has_token(head, "REJECT")) && has_token(head, "OK")) ||
         has_token(head, "NODATA") || has_token(head, "SKIPDATA");
}

}  // namespace

format_entry aws_vpc_format() {
  return {"aws-vpc", "AWS VPC Flow Logs text (default v2 order, or v3-v5 order from a header line)",
          [] { return std::make_unique<aws_vpc_parser>(); }, probe_aws_vpc, is_header_line};
}

}  // namespace portscand
