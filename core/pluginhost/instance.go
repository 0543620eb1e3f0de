// Package pluginhost launches camkit's plugin processes with hashicorp/go-plugin,
// pins their SHA256, configures them, watches their health, restarts a crashed
// one with backoff and kills them all on shutdown.
//
// Core services never see this package: cmd wires the typed clients it returns
// (a processor.Processor, a theme.Theme, ...) into them, so billing runs the same
// against a plugin process and against an in-process fake.
package pluginhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// Spec says how to run one plugin.
type Spec struct {
	Kind        pluginkit.Kind
	Name        string
	Path        string
	SHA256      string // hex; empty means not pinned
	Settings    []byte // JSON object for Configure
	CallTimeout time.Duration
	// Env is what the operator gives the plugin's environment beyond the
	// minimal one every plugin gets ("NAME=value"; see pluginEnv). A
	// CAMKIT_* or PLUGIN_* name refuses the launch (CheckEnvName).
	Env []string
}

// Label is how logs and metrics name the plugin: "processor-sandbox".
func (s Spec) Label() string { return string(s.Kind) + "-" + s.Name }

// Status is what /readyz and `camkit plugins list` report of one plugin.
type Status struct {
	Spec     Spec
	Info     pluginkit.Info
	SHA256   string
	Healthy  bool
	Restarts int
	PID      int
	Err      string
}

// Instance is one supervised plugin process. Its typed client is replaced on
// every restart; calls made while it is down fail fast with a retryable
// errs.Unavailable instead of hanging.
type Instance struct {
	spec    Spec
	factory plugin.Plugin
	log     *slog.Logger
	metrics *Metrics
	env     []string // the plugin's whole environment, before go-plugin's handshake

	mu       sync.RWMutex
	client   *process
	raw      any // the dispensed typed client
	info     pluginkit.Info
	sum      string
	restarts int
	lastErr  error

	stop    chan struct{}
	stopped sync.Once
	done    chan struct{}
}

// Launch verifies, starts, dispenses and configures a plugin, then supervises
// it until Close. The error names the plugin and what went wrong.
func Launch(ctx context.Context, spec Spec, factory plugin.Plugin, log *slog.Logger, m *Metrics) (*Instance, error) {
	if spec.CallTimeout <= 0 {
		spec.CallTimeout = 10 * time.Second
	}
	if len(spec.Settings) == 0 {
		spec.Settings = []byte("{}")
	}
	env, err := pluginEnv(os.Environ(), spec.Env, levelOf(log))
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", spec.Label(), err)
	}
	in := &Instance{spec: spec, factory: factory, log: log.With("plugin", spec.Label()), metrics: m, env: env,
		stop: make(chan struct{}), done: make(chan struct{})}
	if err := in.start(ctx); err != nil {
		return nil, err
	}
	go in.supervise()
	return in, nil
}

// FileSHA256 hashes a plugin binary.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (in *Instance) start(ctx context.Context) error {
	label := in.spec.Label()
	st, err := os.Stat(in.spec.Path)
	if err != nil {
		return fmt.Errorf("plugin %s: binary %s not found (run `make build`?): %w", label, in.spec.Path, err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("plugin %s: %s is not an executable file", label, in.spec.Path)
	}
	sum, err := FileSHA256(in.spec.Path)
	if err != nil {
		return fmt.Errorf("plugin %s: %w", label, err)
	}
	var secure *plugin.SecureConfig
	if want := strings.ToLower(strings.TrimSpace(in.spec.SHA256)); want != "" {
		if want != sum {
			return fmt.Errorf("plugin %s: SHA256 mismatch for %s: config pins %s, file is %s", label, in.spec.Path, want, sum)
		}
		// go-plugin checks again right before exec, closing the gap between our read and the launch.
		raw, _ := hex.DecodeString(want)
		secure = &plugin.SecureConfig{Checksum: raw, Hash: sha256.New()}
	}
	cmd := exec.Command(in.spec.Path)
	cmd.Env = slices.Clone(in.env) // go-plugin appends its handshake to it
	dieWithHost(cmd)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  pluginkit.Handshake,
		Plugins:          plugin.PluginSet{string(in.spec.Kind): in.factory},
		Cmd:              cmd,
		SkipHostEnv:      true, // the environment is in.env, not os.Environ()
		SecureConfig:     secure,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		GRPCDialOptions:  pluginkit.GRPCDialOptions(),
		Managed:          true,
		StartTimeout:     15 * time.Second,
		Logger:           newHCLogger(in.log),
	})
	p := newProcess(client)
	if err := startPinned(func() error { _, err := client.Start(); return err }, p.exited); err != nil {
		p.kill()
		return fmt.Errorf("plugin %s: handshake with %s failed: %w", label, in.spec.Path, err)
	}
	rpc, err := client.Client()
	if err != nil {
		p.kill()
		return fmt.Errorf("plugin %s: handshake with %s failed: %w", label, in.spec.Path, err)
	}
	raw, err := rpc.Dispense(string(in.spec.Kind))
	if err != nil {
		p.kill()
		return fmt.Errorf("plugin %s: %s does not serve a %s plugin: %w", label, in.spec.Path, in.spec.Kind, err)
	}
	mod, ok := raw.(pluginkit.Module)
	if !ok {
		p.kill()
		return fmt.Errorf("plugin %s: dispensed client does not implement the Module lifecycle", label)
	}
	cctx, cancel := context.WithTimeout(ctx, in.spec.CallTimeout)
	defer cancel()
	info, err := mod.Info(cctx)
	if err != nil {
		p.kill()
		return fmt.Errorf("plugin %s: info: %w", label, err)
	}
	if info.Kind != in.spec.Kind {
		p.kill()
		return fmt.Errorf("plugin %s: binary says it is a %q plugin, config wants %q", label, info.Kind, in.spec.Kind)
	}
	if err := mod.Configure(cctx, in.spec.Settings); err != nil {
		p.kill()
		return fmt.Errorf("plugin %s: configure: %w", label, err)
	}
	in.mu.Lock()
	in.client, in.raw, in.info, in.sum, in.lastErr = p, raw, info, sum, nil
	in.mu.Unlock()
	in.log.Info("plugin started", "version", info.Version, "pid", p.pid())
	return nil
}

// process is one plugin process: its go-plugin client, and exited, closed
// once the process is gone, which frees the thread that started it (see
// startPinned).
type process struct {
	client *plugin.Client
	exited chan struct{}
	once   sync.Once
}

func newProcess(c *plugin.Client) *process { return &process{client: c, exited: make(chan struct{})} }

// kill ends the process (go-plugin's Kill returns once it has exited).
func (p *process) kill() {
	p.client.Kill()
	p.once.Do(func() { close(p.exited) })
}

func (p *process) pid() int {
	if rc := p.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// supervise notices a dead process quickly and relaunches it with backoff.
func (in *Instance) supervise() {
	defer close(in.done)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	backoff := 0 * time.Millisecond
	for {
		select {
		case <-in.stop:
			return
		case <-tick.C:
		}
		in.mu.RLock()
		c := in.client
		in.mu.RUnlock()
		if c != nil && !c.client.Exited() {
			continue
		}
		if c != nil {
			in.log.Warn("plugin process exited; restarting")
			in.mu.Lock()
			in.client, in.raw = nil, nil
			in.mu.Unlock()
			c.kill()
		}
		if backoff > 0 {
			select {
			case <-in.stop:
				return
			case <-time.After(backoff):
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err := in.start(ctx)
		cancel()
		in.mu.Lock()
		in.restarts++
		in.lastErr = err
		in.mu.Unlock()
		if in.metrics != nil {
			in.metrics.restarts.WithLabelValues(in.spec.Label()).Inc()
		}
		if err != nil {
			in.log.Error("plugin restart failed", "err", err, "retry_in", nextBackoff(backoff))
			backoff = nextBackoff(backoff)
			continue
		}
		backoff = 0
	}
}

func nextBackoff(b time.Duration) time.Duration {
	if b == 0 {
		return 100 * time.Millisecond
	}
	if b *= 2; b > 5*time.Second {
		b = 5 * time.Second
	}
	return b
}

// Spec returns what the instance was launched with.
func (in *Instance) Spec() Spec { return in.spec }

// Ping checks that the process is alive and answering gRPC.
func (in *Instance) Ping() error {
	in.mu.RLock()
	c := in.client
	in.mu.RUnlock()
	if c == nil || c.client.Exited() {
		return errs.Retry(errs.Unavailable, "plugin %s is restarting", in.spec.Label())
	}
	rpc, err := c.client.Client()
	if err != nil {
		return errs.Retry(errs.Unavailable, "plugin %s: %v", in.spec.Label(), err)
	}
	if err := rpc.Ping(); err != nil {
		return errs.Retry(errs.Unavailable, "plugin %s: ping: %v", in.spec.Label(), err)
	}
	return nil
}

// Status reports health without blocking on a dead process.
func (in *Instance) Status() Status {
	err := in.Ping()
	in.mu.RLock()
	defer in.mu.RUnlock()
	s := Status{Spec: in.spec, Info: in.info, SHA256: in.sum, Healthy: err == nil, Restarts: in.restarts}
	if in.client != nil {
		s.PID = in.client.pid()
	}
	if err != nil {
		s.Err = err.Error()
	} else if in.lastErr != nil {
		s.Err = in.lastErr.Error()
	}
	return s
}

// Close stops supervision and kills the process.
func (in *Instance) Close() {
	in.stopped.Do(func() {
		close(in.stop)
		<-in.done
		in.mu.Lock()
		c := in.client
		in.client, in.raw = nil, nil
		in.mu.Unlock()
		if c != nil {
			c.kill()
		}
	})
}

// Call runs fn against the current typed client of in with the per-call
// deadline and records its latency. It never waits for a restart.
func Call[C any, R any](ctx context.Context, in *Instance, method string, fn func(context.Context, C) (R, error)) (R, error) {
	var zero R
	in.mu.RLock()
	raw := in.raw
	in.mu.RUnlock()
	if raw == nil {
		return zero, errs.Retry(errs.Unavailable, "plugin %s is restarting", in.spec.Label())
	}
	c, ok := raw.(C)
	if !ok {
		return zero, errs.E(errs.Internal, "plugin %s: client is %T", in.spec.Label(), raw)
	}
	ctx, cancel := context.WithTimeout(ctx, in.spec.CallTimeout)
	defer cancel()
	start := time.Now()
	r, err := fn(ctx, c)
	if in.metrics != nil {
		in.metrics.observe(in.spec.Label(), method, time.Since(start), err)
	}
	return r, err
}

// Typed returns the current typed client (nil while restarting). Tests and
// the CLI use it; services go through the kind wrappers, which use Call.
func (in *Instance) Typed() any {
	in.mu.RLock()
	defer in.mu.RUnlock()
	return in.raw
}

// newHCLogger routes go-plugin's own logs, and the plugin's stderr that it
// forwards, into slog with the plugin's name, at the host's level (the
// plugin logs at it too: see pluginEnv).
func newHCLogger(l *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "go-plugin",
		Level:      hclog.LevelFromString(levelOf(l)),
		Output:     &slogWriter{log: l},
		JSONFormat: true,
	})
}
