package testbin

import (
	"os"
	"os/exec"
	"testing"
)

// Need makes sure a program a test runs is installed (a name on PATH or an
// absolute path; pkg is its Debian package, which .ci/run installs). Without
// it the test fails under CI=true, where a skip would hide a missing install
// step, and skips with that message elsewhere.
func Need(t testing.TB, program, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(program); err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found (CI=true: this test must run; apt-get install %s)", program, pkg)
	}
	t.Skipf("%s not found: skipping (apt-get install %s; under CI=true this fails)", program, pkg)
}
