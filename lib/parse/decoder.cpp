#include "parse/decoder.hpp"

#include <stdexcept>

#include "parse/json_util.hpp"
#include "parse/normalize.hpp"
#include "parse/syslog_header.hpp"

namespace portscand {

namespace {

// Hands on what a parser reports, each record after normalize() with what the unit's
// syslog header, envelope and transport said (the parser's own context).
class normalizing_sink final : public parse_sink {
 public:
  normalizing_sink(parse_sink& out, const parse_context& ctx, label_cache& labels) noexcept
      : out_(out), host_(ctx.host), labels_(labels) {
    origin_.header_time = ctx.header_time;
    origin_.receive_time = ctx.receive_time;
    origin_.time_source = ctx.time_source;
    origin_.mode = ctx.mode;
  }

  void record(const network_session& s) override {
    network_session r = s;
    // The host is interned once per unit, and only for a record that names no device.
    if (r.device == label_table::empty_id && !host_.empty()) {
      origin_.host = labels_.get(host_);
      host_ = {};
    }
    normalize(r, origin_);
    out_.record(r);
  }
  void skipped(std::string_view reason) override { out_.skipped(reason); }
  void rejected(std::string_view reason) override { out_.rejected(reason); }
  void ignored_field(std::string_view reason) override { out_.ignored_field(reason); }

 private:
  parse_sink& out_;
  std::string_view host_;
  label_cache& labels_;
  record_origin origin_;
};

// What the last winner's parser reports for a unit it was handed without its probe: passed
// on once the parser has claimed the unit; a report before that makes the unit "not mine",
// and it and everything after it are dropped (the unit goes to detection).
class claim_sink final : public parse_sink {
 public:
  explicit claim_sink(parse_sink& out) noexcept : out_(out) {}

  void claim() override {
    if (!disowned_) claimed_ = true;
  }
  void record(const network_session& s) override {
    if (pass()) out_.record(s);
  }
  void skipped(std::string_view reason) override {
    if (pass()) out_.skipped(reason);
  }
  void rejected(std::string_view reason) override {
    if (pass()) out_.rejected(reason);
  }
  void ignored_field(std::string_view reason) override {
    if (pass()) out_.ignored_field(reason);
  }

  bool mine() const noexcept { return claimed_; }

 private:
  bool pass() noexcept {
    disowned_ = disowned_ || !claimed_;
    return claimed_;
  }

  parse_sink& out_;
  bool claimed_ = false;
  bool disowned_ = false;
};

}  // namespace

unit_decoder::unit_decoder(const format_registry& registry, std::string_view format,
                           std::size_t max_unit_bytes, envelope_options envelope)
    : registry_(registry),
      max_unit_bytes_(max_unit_bytes),
      ecs_(registry.find("ecs")),
      envelopes_(std::move(envelope)),
      parsers_(registry.entries().size()) {
  if (format == "auto") return;
  const auto& entries = registry.entries();
  for (std::size_t i = 0; i < entries.size(); ++i)
    if (entries[i].name == format) fixed_ = static_cast<int>(i);
  if (fixed_ < 0) throw std::invalid_argument("unknown format: " + std::string(format));
}

format_parser& unit_decoder::parser_for(std::size_t index) {
  auto& p = parsers_[index];
  if (!p) p = registry_.entries()[index].make();
  return *p;
}

const format_entry* unit_decoder::detect(std::string_view unit) {
  const std::string_view head = unit.substr(0, probe_window);
  const probe_shape shape = probe_shape::of(head);
  const auto& entries = registry_.entries();
  const format_entry* found = nullptr;
  std::size_t at = 0;  // position of the winner in recent_ (recent_count_ when it was not there)
  for (; at < recent_count_; ++at) {
    const format_entry& e = entries[recent_[at]];
    if (shape.admits(e) && e.probe(head)) {
      found = &e;
      break;
    }
  }
  if (found == nullptr) {
    found = registry_.detect(head, shape, std::span(recent_.data(), recent_count_));
    if (found == nullptr) return nullptr;
    if (recent_count_ < max_recent) ++recent_count_;
    at = recent_count_ - 1;  // the least recent one makes room
  }
  for (std::size_t i = at; i > 0; --i) recent_[i] = recent_[i - 1];
  recent_[0] = static_cast<std::size_t>(found - entries.data());
  return found;
}

bool unit_decoder::winner_takes(std::string_view unit, const parse_context& ctx, parse_sink& sink) {
  if (fixed_ >= 0 || recent_count_ == 0) return false;
  const std::size_t index = recent_[0];
  const format_entry& e = registry_.entries()[index];
  if (!e.claims) return false;
  normalizing_sink normalized(sink, ctx, labels_);
  claim_sink claims(normalized);
  parser_for(index).parse(unit, ctx, claims);
  if (!claims.mine()) return false;
  last_format_ = e.name;
  return true;
}

void unit_decoder::decode(std::string_view unit, const parse_context& ctx, parse_sink& sink) {
  last_format_ = {};
  last_envelope_ = {};
  const bool was_enveloped = enveloped_;
  enveloped_ = false;
  header_time_ = ctx.header_time;
  while (!unit.empty() && (unit.back() == '\n' || unit.back() == '\r')) unit.remove_suffix(1);
  if (unit.size() > max_unit_bytes_) {
    sink.rejected("too_large");
    return;
  }
  // A plain loop: find_first_not_of with a set calls memchr once per byte it looks at.
  std::size_t first = 0;
  while (first < unit.size() && (unit[first] == ' ' || unit[first] == '\t')) ++first;
  if (first == unit.size()) {
    sink.skipped("empty");
    return;
  }
  // Only a unit that starts with '{' can be an envelope: any other unit pays one compare.
  const format_entry* detected = nullptr;
  bool have_detected = false;
  if (unit[first] == '{' && envelopes_.mode() != envelope_options::kind::none) {
    // The last winner, when the last unit came bare, takes a JSON object before the envelope
    // check: it claims by keys that no envelope (shipper fields and a message) has; ECS's
    // endpoint fields make a document a record for the envelope reader too. A unit it
    // disowns (an envelope, another format's record) goes through the check and detection.
    if (!was_enveloped && envelopes_.mode() != envelope_options::kind::custom &&
        winner_takes(unit, ctx, sink))
      return;
    if (try_envelope(unit, ctx, sink, detected, have_detected)) return;
  }
  decode_line(unit, ctx, sink, detected, have_detected);
}

bool unit_decoder::try_envelope(std::string_view unit, const parse_context& ctx, parse_sink& sink,
                                const format_entry*& detected, bool& have_detected) {
  envelope_fields env;
  envelope_reader::outcome r;
  if (envelopes_.mode() == envelope_options::kind::custom) {
    r = envelopes_.read(unit, ctx, false, false, env);
  } else {
    // A fixed JSON format says its units are its records: no envelope is looked for (the
    // hot path of native Kafka topics pays one compare). Envelopes around text formats
    // (`format: cef` over Filebeat events) are unwrapped as under auto.
    if (fixed_ >= 0 && registry_.entries()[static_cast<std::size_t>(fixed_)].reads_json)
      return false;
    // The first key, read as text, settles most native records at no cost: a JSON format's
    // record starts with a key no shipper writes; the probes then decide.
    const std::string_view first_key = raw_first_key(unit);
    const bool foreign_first = !first_key.empty() && !shipper_key(first_key);
    // One pass over the keys: an object made only of the shippers' own fields that holds a
    // message is an envelope, whatever a probe's substring search would find in its values,
    // and costs no probe.
    r = foreign_first ? envelope_reader::outcome::foreign
                      : envelopes_.read(unit, ctx, false, true, env);
    if (r != envelope_reader::outcome::unwrapped) {
      // Otherwise a native record of a JSON format is never an envelope: the formats' probes
      // decide (auto-detection runs once; its answer is kept for decode_line). ECS documents
      // are the exception: Beats and Logstash write the raw line as an ECS document.
      const format_entry* claimed = nullptr;
      if (fixed_ >= 0) {
        const format_entry& e = registry_.entries()[static_cast<std::size_t>(fixed_)];
        if (e.probe && e.probe(unit.substr(0, probe_window))) claimed = &e;
      } else {
        detected = detect(unit);
        have_detected = true;
        claimed = detected;
      }
      // A text format's probe may match text quoted inside an envelope: not a native claim.
      if (claimed != nullptr && !claimed->reads_json) claimed = nullptr;
      if (claimed != nullptr && claimed != ecs_) return false;
      // An ECS document that names its endpoints (source/destination) is a record, not a
      // raw event: the probe's text check settles it without reading the object again.
      if (claimed == ecs_ && json::has_ecs_endpoint(unit.substr(0, probe_window))) return false;
      const bool ecs_claimed = claimed != nullptr;
      if (r == envelope_reader::outcome::foreign)
        r = envelopes_.read(unit, ctx, ecs_claimed, false, env);
      else if (r == envelope_reader::outcome::without_message && ecs_claimed)
        r = envelope_reader::outcome::not_envelope;
    }
  }
  switch (r) {
    case envelope_reader::outcome::not_envelope:
    case envelope_reader::outcome::foreign:
      return false;
    case envelope_reader::outcome::invalid_json:
      // Left to the formats, which count it (invalid_json, or unknown_format under auto).
      return false;
    case envelope_reader::outcome::without_message:
      last_format_ = "envelope";
      sink.rejected("envelope_without_message");
      return true;
    case envelope_reader::outcome::message_not_text:
      last_format_ = "envelope";
      sink.rejected("envelope_message_not_text");
      return true;
    case envelope_reader::outcome::unwrapped:
      break;
  }
  last_envelope_ = env.shape;
  enveloped_ = true;
  if (env.bad_time || env.bad_host) {
    last_format_ = "envelope";
    if (env.bad_time) sink.ignored_field("envelope_bad_time");
    if (env.bad_host) sink.ignored_field("envelope_bad_host");
    last_format_ = {};
  }
  // The envelope's time and host stand where a transport's would: below the line's own
  // syslog header and the record's own fields.
  parse_context inner = ctx;
  if (env.time != 0) inner.header_time = env.time;
  if (!env.host.empty()) inner.host = env.host;
  if (!env.app.empty()) inner.app = env.app;
  inner.structured_data = {};
  // A message that is a view of the (padded) text the reader parsed is followed by the rest
  // of it; an unescaped one lives in the reader's string buffer, whose tail is not ours.
  inner.padded = env.message_in_unit;
  header_time_ = inner.header_time;
  std::string_view line = env.message;
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) {
    sink.skipped("empty");
    return true;
  }
  decode_line(line, inner, sink, nullptr, false);
  return true;
}

void unit_decoder::decode_line(std::string_view unit, const parse_context& ctx, parse_sink& sink,
                               const format_entry* detected, bool have_detected) {
  std::size_t first = 0;
  while (first < unit.size() && (unit[first] == ' ' || unit[first] == '\t')) ++first;
  // A syslog header in front of the record: its time, host and tag go into the context and
  // the format (and the probes) see only the body. JSON units (objects, arrays) never carry
  // a header and go to the format as they are.
  parse_context body_ctx = ctx;
  if (unit[first] != '{' && unit[first] != '[') {
    syslog_header h;
    if (parse_syslog_header(unit, ctx.receive_time, h, ctx.zone)) {
      // The body is a suffix of the unit, so whatever padding followed the unit follows it.
      unit = h.body;
      if (h.time != 0) body_ctx.header_time = h.time;
      if (!h.host.empty()) body_ctx.host = h.host;
      if (!h.app.empty()) body_ctx.app = h.app;
      body_ctx.structured_data = h.structured_data;
      header_time_ = body_ctx.header_time;
      if (unit.find_first_not_of(" \t") == std::string_view::npos) {
        sink.skipped("empty");
        return;
      }
      have_detected = false;
    }
  }
  std::size_t index;
  if (fixed_ >= 0) {
    index = static_cast<std::size_t>(fixed_);
  } else {
    if (!have_detected && winner_takes(unit, body_ctx, sink)) return;
    const format_entry* e = have_detected ? detected : detect(unit);
    // A record carried in the structured data beside a message the probes do not know
    // (Check Point's Fields@ element): the format finds it in the context.
    if (e == nullptr && !body_ctx.structured_data.empty()) e = detect(body_ctx.structured_data);
    if (e == nullptr) {
      sink.rejected("unknown_format");
      return;
    }
    index = static_cast<std::size_t>(e - registry_.entries().data());
  }
  last_format_ = registry_.entries()[index].name;
  normalizing_sink normalized(sink, body_ctx, labels_);
  parser_for(index).parse(unit, body_ctx, normalized);
}

}  // namespace portscand
