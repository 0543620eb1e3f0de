// Package config reads camkit's one TOML file and applies CAMKIT_* environment
// overrides. Every scalar key has an override named CAMKIT_<SECTION>_<KEY>, e.g.
// CAMKIT_DATABASE_URL or CAMKIT_HTTP_ADDR. With no file at all, Default() is the
// embedded setup: SQLite under ./data, sandbox processor, fixed currency,
// percentage split, default theme, on 127.0.0.1:8080.
package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/camkit/camkit/core/clientaddr"
	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
)

// Config is the whole file. Field order follows camkit.example.toml.
type Config struct {
	Site     Site                    `toml:"site"`
	HTTP     HTTP                    `toml:"http"`
	Database Database                `toml:"database"`
	Log      Log                     `toml:"log"`
	Plugins  Plugins                 `toml:"plugins"`
	Plugin   map[string]PluginConfig `toml:"plugin"`
	Security Security                `toml:"security"`
	Billing  Billing                 `toml:"billing"`
	Stream   Stream                  `toml:"stream"`
	Chat     Chat                    `toml:"chat"`
	Tickets  Tickets                 `toml:"tickets"`
	Shows    Shows                   `toml:"shows"`
	// Routing picks among the active processors for new funding.
	Routing Routing `toml:"routing"`
	// CreditPacks are the [[credit_packs]] a viewer buys with the card on file.
	CreditPacks []CreditPack `toml:"credit_packs"`
}

// Site is the operator's brand-independent identity.
type Site struct {
	Name string `toml:"name"`
	// Currency is the ISO 4217 code prices, wallets and credit packs are in.
	Currency string `toml:"currency"`
}

type HTTP struct {
	Addr string `toml:"addr"`
	// PublicURL is where viewers reach the site; return URLs given to processors are built from it.
	PublicURL string `toml:"public_url"`
	// TrustedProxies are the addresses or CIDRs of reverse proxies in front of
	// camkit. Only a request from one of them may name the client's address in
	// ProxyHeader, walked from the right past every trusted proxy (see
	// core/clientaddr). Empty: the direct peer is the client (no proxy).
	TrustedProxies []string `toml:"trusted_proxies"`
	// ProxyHeader is the header the proxies write (clientaddr.ParseHeader:
	// the de-facto forwarding header by default, or RFC 7239). Only it is read.
	ProxyHeader string `toml:"proxy_header"`
}

type Database struct {
	// URL is sqlite://path or postgres://user@host:port/db?sslmode=disable.
	URL string `toml:"url"`
}

type Log struct {
	Level  string `toml:"level"`  // debug | info | warn | error
	Format string `toml:"format"` // text | json
}

// Plugins chooses one plugin of each kind by name. The binary of a plugin of
// kind K and name N is <dir>/K-N (e.g. bin/plugins/processor-sandbox).
type Plugins struct {
	Dir string `toml:"dir"`
	// Processor is the default processor: new funding goes to it unless a
	// [routing] rule picks another.
	Processor string `toml:"processor"`
	// Processors are more active processors, for [routing] rules and the
	// cascade; each is loaded like the default.
	Processors []string `toml:"processors"`
	// RetiredProcessors are loaded only for what they already hold: refunds,
	// chargebacks, webhooks and postbacks of their charges, and the seats they
	// opened. They never take new funding. A former plugins.processor still
	// referenced by cards on file or open seats is added here by the host
	// when its binary is present (cmd/camkit).
	RetiredProcessors []string `toml:"retired_processors"`
	Currency          string   `toml:"currency"`
	Split             string   `toml:"split"`
	Theme             string   `toml:"theme"`
	CallTimeout       Duration `toml:"call_timeout"`
}

// PluginConfig is the [plugin.<kind>-<name>] table of one plugin binary.
type PluginConfig struct {
	// SHA256, when set, pins the binary: a different file refuses to start.
	SHA256 string `toml:"sha256"`
	// Settings is passed to the plugin's Configure as a JSON object.
	Settings map[string]any `toml:"settings"`
	// A plugin starts with a minimal environment (PATH, HOME, TMPDIR, TZ,
	// LANG, LC_*, SSL_CERT_FILE/DIR, and its log level), never the host's.
	// Env adds variables with the values given here (NAME = "value");
	// PassEnv copies the named variables from the host's environment, for
	// values kept out of this file (a proxy with credentials); a name unset
	// in the host stays unset. Env wins over PassEnv. CAMKIT_* and PLUGIN_*
	// names are refused.
	Env     map[string]string `toml:"env"`
	PassEnv []string          `toml:"pass_env"`
}

// Duration reads "5s"-style strings.
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Default is the embedded configuration used when no file is given.
func Default() Config {
	return Config{
		Site:     Site{Name: "camkit", Currency: "USD"},
		HTTP:     HTTP{Addr: "127.0.0.1:8080", PublicURL: "http://127.0.0.1:8080", ProxyHeader: string(clientaddr.XForwardedFor)},
		Database: Database{URL: "sqlite://./data/camkit.db"},
		Log:      Log{Level: "info", Format: "text"},
		Plugins: Plugins{
			Dir:         "./bin/plugins",
			Processor:   "sandbox",
			Currency:    "fixed",
			Split:       "percentage",
			Theme:       "default",
			CallTimeout: Duration{10 * time.Second},
		},
		Security:    DefaultSecurity(),
		Billing:     DefaultBilling(),
		Stream:      DefaultStream(),
		Chat:        DefaultChat(),
		Tickets:     DefaultTickets(),
		CreditPacks: DefaultCreditPacks(),
		Plugin: map[string]PluginConfig{
			// The sandbox's webhook secret is the deployment's own, generated
			// and kept in the database by the host (cmd/camkit): none is
			// printed here. Any operator file that names this table replaces it.
			"processor-sandbox": {Settings: map[string]any{
				"state_file": "./data/sandbox-processor.json",
			}},
		},
	}
}

// Load reads path (may be empty: defaults only) and applies environment
// overrides from env (os.Environ() in production).
func Load(path string, env []string) (Config, error) {
	cfg := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		// The decoder fills slices element by element, so a file's packs would
		// inherit the defaults' fields: lists start empty and get their
		// defaults back only when the file leaves them out.
		cfg.CreditPacks, cfg.Chat.TipPresets = nil, nil
		md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(&cfg)
		if err != nil {
			return Config{}, fmt.Errorf("config %s: %w", path, err)
		}
		if !md.IsDefined("credit_packs") {
			cfg.CreditPacks = DefaultCreditPacks()
		}
		if !md.IsDefined("chat", "tip_presets") {
			cfg.Chat.TipPresets = DefaultChat().TipPresets
		}
		for _, k := range md.Undecoded() {
			// A plugin's settings are its own, free-form (the decoder reports
			// some quoted keys of nested settings tables as undecoded).
			if len(k) > 3 && k[0] == "plugin" && k[2] == "settings" {
				continue
			}
			return Config{}, fmt.Errorf("config %s: unknown key %q", path, k.String())
		}
	}
	if err := applyEnv(&cfg, env); err != nil {
		return Config{}, err
	}
	if cfg.Plugin == nil {
		cfg.Plugin = map[string]PluginConfig{}
	}
	return cfg, cfg.Validate()
}

// Validate checks what can be checked without opening anything.
func (c Config) Validate() error {
	if _, err := money.Lookup(c.Site.Currency); err != nil {
		return errs.E(errs.UnknownCurrency, "config: site.currency %q is not an ISO 4217 currency code", c.Site.Currency)
	}
	if _, err := clientaddr.ParseTrusted(c.HTTP.TrustedProxies); err != nil {
		return errs.E(errs.Invalid, "config: http.trusted_proxies: %v", err)
	}
	if _, err := clientaddr.ParseHeader(c.HTTP.ProxyHeader); err != nil {
		return errs.E(errs.Invalid, "config: http.proxy_header: %v", err)
	}
	if c.HTTP.Addr == "" {
		return errs.E(errs.Invalid, "config: http.addr is empty")
	}
	if !strings.HasPrefix(c.Database.URL, "sqlite://") && !strings.HasPrefix(c.Database.URL, "postgres://") && !strings.HasPrefix(c.Database.URL, "postgresql://") {
		return errs.E(errs.Invalid, "config: database.url %q is neither sqlite://path nor postgres://...", c.Database.URL)
	}
	for _, k := range []struct{ key, v string }{{"processor", c.Plugins.Processor}, {"currency", c.Plugins.Currency}, {"split", c.Plugins.Split}, {"theme", c.Plugins.Theme}} {
		if k.v == "" {
			return errs.E(errs.Invalid, "config: plugins.%s is empty", k.key)
		}
		if strings.ContainsAny(k.v, `/\`) {
			return errs.E(errs.Invalid, "config: plugins.%s %q must be a name, not a path", k.key, k.v)
		}
	}
	if err := c.validateProcessors(); err != nil {
		return err
	}
	if c.Plugins.CallTimeout.Duration <= 0 {
		return errs.E(errs.Invalid, "config: plugins.call_timeout must be positive")
	}
	if err := c.validatePluginEnv(); err != nil {
		return err
	}
	return c.validateProduct()
}

// validatePluginEnv checks every [plugin.<label>] env and pass_env name, in
// a stable order so that the error is always about the same one.
func (c Config) validatePluginEnv() error {
	labels := make([]string, 0, len(c.Plugin))
	for l := range c.Plugin {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		pc := c.Plugin[l]
		for _, name := range sortedKeys(pc.Env) {
			if err := pluginhost.CheckEnvName(name); err != nil {
				return errs.E(errs.Invalid, "config: plugin.%s.env: %v", l, err)
			}
			if strings.ContainsRune(pc.Env[name], 0) {
				return errs.E(errs.Invalid, "config: plugin.%s.env: %s holds a NUL byte", l, name)
			}
		}
		for _, name := range pc.PassEnv {
			if err := pluginhost.CheckEnvName(name); err != nil {
				return errs.E(errs.Invalid, "config: plugin.%s.pass_env: %v", l, err)
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// PluginEnv is what the plugin of a kind and name gets in its environment
// beyond the minimal one, as "NAME=value": its pass_env variables set in
// hostEnv (os.Environ() in production), then its env table.
func (c Config) PluginEnv(kind, name string, hostEnv []string) []string {
	pc := c.Plugin[kind+"-"+name]
	var out []string
	for _, want := range pc.PassEnv {
		for _, kv := range hostEnv {
			if k, _, ok := strings.Cut(kv, "="); ok && k == want {
				out = append(out, kv)
			}
		}
	}
	for _, k := range sortedKeys(pc.Env) {
		out = append(out, k+"="+pc.Env[k])
	}
	return out
}

// PluginPath is the binary of the plugin of a kind and name.
func (c Config) PluginPath(kind, name string) string {
	return filepath.Join(c.Plugins.Dir, kind+"-"+name)
}

// PluginSettingsJSON is the settings table of a plugin binary as a JSON object.
func (c Config) PluginSettingsJSON(kind, name string) ([]byte, error) {
	s := c.Plugin[kind+"-"+name].Settings
	if s == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(s)
}

// applyEnv sets scalar fields from CAMKIT_<SECTION>_<KEY> variables.
func applyEnv(cfg *Config, env []string) error {
	vals := map[string]string{}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, "CAMKIT_") {
			vals[k] = v
		}
	}
	root := reflect.ValueOf(cfg).Elem()
	for i := 0; i < root.NumField(); i++ {
		sec := root.Field(i)
		secName := tomlName(root.Type().Field(i))
		if sec.Kind() != reflect.Struct {
			continue
		}
		for j := 0; j < sec.NumField(); j++ {
			f := sec.Field(j)
			key := "CAMKIT_" + strings.ToUpper(secName+"_"+tomlName(sec.Type().Field(j)))
			v, ok := vals[key]
			if !ok {
				continue
			}
			if err := setScalar(f, v); err != nil {
				return errs.E(errs.Invalid, "config: %s=%q: %v", key, v, err)
			}
		}
	}
	return nil
}

func tomlName(f reflect.StructField) string {
	if t := f.Tag.Get("toml"); t != "" {
		return strings.Split(t, ",")[0]
	}
	return strings.ToLower(f.Name)
}

func setScalar(f reflect.Value, v string) error {
	if u, ok := f.Addr().Interface().(interface{ UnmarshalText([]byte) error }); ok {
		return u.UnmarshalText([]byte(v))
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(v)
	case reflect.Bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return err
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return err
		}
		f.SetInt(n)
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}
