#pragma once

// The syslog output's bytes (README "Syslog / CEF output"): the CEF rendering of an alert,
// the RFC 5424 message around a body and the RFC 6587 octet-counting frame. Pure functions,
// any thread.

#include <string>
#include <string_view>

#include "config/config.hpp"
#include "event/alert.hpp"

namespace portscand {

// A CEF header field: '\' and '|' escaped with '\'; a line break (not allowed in a header)
// becomes a space.
std::string cef_escape_header(std::string_view text);
// A CEF extension value: '\' and '=' escaped with '\', CR and LF written as \r and \n.
std::string cef_escape_extension(std::string_view text);

// A rule severity (Informational, Low, Medium, High, Critical) on CEF's 0-10 scale: 1, 3, 5,
// 8, 10 (ArcSight reads 0-3 Low, 4-6 Medium, 7-8 High, 9-10 Very-High); 5 for anything else.
int cef_severity(std::string_view rule_severity);
// The same on syslog's scale (RFC 5424): info, notice, warning, err, crit; warning otherwise.
int syslog_severity_for_rule(std::string_view rule_severity);

// "CEF:0|portscand|portscand|<version>|<rule id>|<title>|<0-10>|<extension>", one line.
std::string render_cef(const alert& a, std::string_view product_version);

// The fields of an RFC 5424 header that stay the same for an output.
struct syslog_header_fields {
  int facility = 16;
  int severity = -1;  // -1 = syslog_severity_for_rule()
  std::string hostname = "-";
  std::string app_name = "portscand";
  std::string procid = "-";
};

// "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - BODY": TIMESTAMP = the alert's
// detected_at in UTC (microseconds), MSGID "alert", no structured data, no BOM.
std::string rfc5424_message(const syslog_header_fields& h, const alert& a, std::string_view body);

// RFC 6587 §3.4.1 octet counting: "<length of message in bytes> <message>".
std::string octet_counted(std::string_view message);

// The message body of an alert for `cfg`: its CEF, or its JSON in `schema`.
std::string syslog_body_for(const alert& a, syslog_body format, output_schema schema,
                            std::string_view product_version);

}  // namespace portscand
