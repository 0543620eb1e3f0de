//go:build unix

package pluginkit_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// The test binary plays two more parts, chosen by roleEnv: "plugin" serves a
// do-nothing plugin through pluginkit.Serve, exactly as a real plugin's main
// does; "parent" is a stand-in host that starts the plugin as a plain child
// (no Pdeathsig, nothing a real host adds), prints its pid and waits to be
// killed.
const roleEnv = "PLUGINKIT_TEST_ROLE"

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "plugin":
		pluginkit.Serve(pluginkit.KindSplit, nopPlugin{})
		os.Exit(0)
	case "parent":
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), roleEnv+"=plugin",
			pluginkit.Handshake.MagicCookieKey+"="+pluginkit.Handshake.MagicCookieValue,
			"PLUGIN_PROTOCOL_VERSIONS="+strconv.Itoa(pluginkit.ProtocolVersion))
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Printf("plugin %d\n", cmd.Process.Pid)
		select {} // until killed
	}
	os.Exit(m.Run())
}

// nopPlugin serves nothing but the handshake.
type nopPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (nopPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return nil }
func (nopPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

// A plugin whose host dies by SIGKILL, with nothing to kill it in turn (no
// Pdeathsig, no Kill from the host), exits on its own, well within 2 s.
func TestPluginExitsWhenItsParentIsKilled(t *testing.T) {
	stderr, err := os.CreateTemp(t.TempDir(), "plugin-stderr")
	if err != nil {
		t.Fatal(err)
	}
	parent := exec.Command(os.Args[0])
	parent.Env = append(os.Environ(), roleEnv+"=parent")
	parent.Stderr = stderr
	stdout, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { parent.Process.Kill(); parent.Wait() })

	lines := bufio.NewScanner(stdout)
	var pid int
	if !lines.Scan() {
		t.Fatal("parent printed nothing")
	}
	if _, err := fmt.Sscanf(lines.Text(), "plugin %d", &pid); err != nil {
		t.Fatalf("parent: %q", lines.Text())
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	// The plugin is serving once it has written go-plugin's handshake line.
	if !lines.Scan() || !strings.Contains(lines.Text(), "|grpc") {
		b, _ := os.ReadFile(stderr.Name())
		t.Fatalf("plugin did not hand shake: %q\nstderr:\n%s", lines.Text(), b)
	}
	if !running(pid) {
		t.Fatalf("plugin %d is not running before its parent is killed", pid)
	}

	if err := parent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	parent.Wait()
	killed := time.Now()
	for running(pid) {
		if time.Since(killed) > 2*time.Second {
			t.Fatalf("plugin %d still running 2 s after its parent was killed", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("plugin exited %v after its parent was killed", time.Since(killed).Round(time.Millisecond))
	b, _ := os.ReadFile(stderr.Name())
	if !strings.Contains(string(b), "the host process went away") {
		t.Fatalf("the plugin did not exit through its parent watch; stderr:\n%s", b)
	}
}

// running reports whether pid is a live process (a zombie waiting for its
// new parent to reap it has exited).
func running(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err != nil || !strings.Contains(string(b), ") Z ")
}
