package pluginhost

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"

	"github.com/camkit/camkit/sdk/pluginkit"
)

// A plugin process starts with a minimal environment, never the host's: the
// host's holds its configuration (CAMKIT_DATABASE_URL, CAMKIT_SECURITY_SECRET,
// TURN credentials), which a plugin, often third-party code, must not be able
// to read from its own /proc/<pid>/environ. A plugin gets
//
//   - baseEnv, taken from the host's environment where set: what any program
//     needs to find binaries, its home, temporary files, the time zone, the
//     locale and the CA roots its HTTPS clients trust;
//   - what the operator lists for it (Spec.Env, from
//     [plugin.<kind>-<name>] env and pass_env), never a CAMKIT_* variable;
//   - pluginkit.LogLevelEnv, set by the host to its own log level, so that a
//     plugin logs what the host would print (its lines are re-logged by the
//     host at their level);
//   - go-plugin's handshake variables (the magic cookie, protocol versions,
//     the host's client certificate), which it adds itself.

// baseEnv names the host variables every plugin gets; a name ending in "_"
// is a prefix (LC_ALL, LC_TIME, ...). The Windows names let a process start
// with working sockets and temporary files there; elsewhere they are unset.
var baseEnv = []string{
	"PATH", "HOME", "TMPDIR", "TZ", "LANG", "LC_", "SSL_CERT_FILE", "SSL_CERT_DIR",
	"SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "TEMP", "TMP", "USERPROFILE", "LOCALAPPDATA", "APPDATA", "PATHEXT", "COMSPEC",
}

// CheckEnvName tells whether name may be given to a plugin by the operator:
// a portable variable name ([A-Za-z_][A-Za-z0-9_]*), not CAMKIT_* (the host's
// configuration and secrets; the host sets the plugin's log level itself)
// and not PLUGIN_* (go-plugin's handshake, which the host sets).
func CheckEnvName(name string) error {
	if name == "" {
		return fmt.Errorf("an empty variable name")
	}
	for i, r := range name {
		if !(r == '_' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || i > 0 && '0' <= r && r <= '9') {
			return fmt.Errorf("%q is not a variable name (letters, digits and _, not starting with a digit)", name)
		}
	}
	switch up := strings.ToUpper(name); {
	case strings.HasPrefix(up, "CAMKIT_"):
		return fmt.Errorf("%s is refused: CAMKIT_* variables hold the host's configuration and secrets and never reach a plugin "+
			"(give a plugin what it needs in its settings; its log level follows log.level)", name)
	case strings.HasPrefix(up, "PLUGIN_"):
		return fmt.Errorf("%s is refused: PLUGIN_* variables are go-plugin's handshake, which the host sets", name)
	}
	return nil
}

// pluginEnv is the environment a plugin starts with (go-plugin adds its
// handshake): baseEnv from host, then extra ("NAME=value", the operator's;
// a name given twice keeps the last), then the log level.
func pluginEnv(host, extra []string, logLevel string) ([]string, error) {
	var out []string
	for _, kv := range host {
		name, _, ok := strings.Cut(kv, "=")
		if ok && name != "" && inBaseEnv(name) {
			out = append(out, kv)
		}
	}
	for _, kv := range extra {
		name, _, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("env entry %q is not NAME=value", kv)
		}
		if err := CheckEnvName(name); err != nil {
			return nil, fmt.Errorf("env: %w", err)
		}
		out = append(out, kv)
	}
	return append(out, pluginkit.LogLevelEnv+"="+logLevel), nil
}

func inBaseEnv(name string) bool {
	if runtime.GOOS == "windows" { // names are case-insensitive there ("Path")
		name = strings.ToUpper(name)
	}
	for _, b := range baseEnv {
		if name == b || strings.HasSuffix(b, "_") && strings.HasPrefix(name, b) {
			return true
		}
	}
	return false
}

// levelOf is the lowest level l logs, as pluginkit.Logger reads it.
func levelOf(l *slog.Logger) string {
	ctx := context.Background()
	switch {
	case l.Enabled(ctx, slog.LevelDebug):
		return "debug"
	case l.Enabled(ctx, slog.LevelInfo):
		return "info"
	case l.Enabled(ctx, slog.LevelWarn):
		return "warn"
	}
	return "error"
}
