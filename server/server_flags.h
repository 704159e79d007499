// descentd's flags: their definitions (each flag's help is the one text --help and the
// usage errors draw on), and the command line turned into ServerOptions. Flags are spelled
// with dashes (--metrics-listen); absl's underscore spelling (--metrics_listen) is accepted
// too (command_line.h).
#ifndef DESCENT_SERVER_SERVER_FLAGS_H_
#define DESCENT_SERVER_SERVER_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/observability/log.h"
#include "server/security/server_tls.h"
#include "server/server_options.h"

namespace descent::server {

// What descentd's command line asks for. The files it names are not read yet: reading them
// can fail for reasons a usage message cannot fix (LoadServerSecrets).
struct DescentdConfig {
  // Validated (ValidateServerOptions), with dataset_dir under data_dir, and job_store_path
  // there too unless --store names a PostgreSQL job_store_url;
  // tls and bearer_tokens are left unset.
  ServerOptions options;
  std::string data_dir;        // --data-dir, as given
  LogFormat log_format = LogFormat::kText;
  ServerTlsFiles tls_files;    // --tls-cert, --tls-key, --tls-client-ca
  std::string auth_token_file;  // --auth-token-file; empty = no authentication
};

// Parses `args` (argv without the program name; no --help or --version) into a config.
// INVALID_ARGUMENT with a one-line message for the user, naming the flag as typed and the
// fix: a flag that does not parse (command_line.h), a value out of range
// (ValidateServerOptions), --data-dir or --log-format wrong, a TLS flag without its partner.
absl::StatusOr<DescentdConfig> ParseDescentdFlags(const std::vector<std::string>& args);

// Reads the TLS files and the token file `config` names into config->options.
// NOT_FOUND or INVALID_ARGUMENT naming the flag and the file (LoadServerTls, ReadTokenFile).
absl::Status LoadServerSecrets(DescentdConfig* config);

// `descentd --help`: what descentd is, every flag with its default and help, signals and
// exit codes.
std::string DescentdHelp();

}  // namespace descent::server

#endif  // DESCENT_SERVER_SERVER_FLAGS_H_
