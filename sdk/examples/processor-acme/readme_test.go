package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The README shows this plugin as the quickstart: what it shows must be the
// code that is built and tested here, byte for byte.
func TestReadmeShowsThisCode(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, found := bytes.Cut(readme, []byte("\n### A processor plugin"))
	if !found {
		t.Fatal("README.md has no section \"### A processor plugin…\"")
	}
	if end := bytes.Index(section, []byte("\n## ")); end >= 0 {
		section = section[:end] // the next chapter; Go code has no line starting with "## "
	}
	blocks := goBlocks(section)
	if len(blocks) < 2 {
		t.Fatalf("the README's quickstart has %d Go code blocks, want the plugin and its test", len(blocks))
	}
	for i, c := range []struct{ file, what string }{{"main.go", "whole"}, {"main_test.go", "part"}} {
		src, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		if c.what == "whole" && !bytes.Equal(blocks[i], src) {
			t.Errorf("the README's first Go block is not %s byte for byte: copy the file into the README", c.file)
		}
		if c.what == "part" && !bytes.Contains(src, blocks[i]) {
			t.Errorf("the README's second Go block is not part of %s: copy it from the file", c.file)
		}
	}
}

// goBlocks returns the bodies of the ```go fenced blocks of md, each ending
// in a newline as a Go file does.
func goBlocks(md []byte) [][]byte {
	var out [][]byte
	for {
		_, rest, ok := bytes.Cut(md, []byte("```go\n"))
		if !ok {
			return out
		}
		body, after, ok := bytes.Cut(rest, []byte("\n```"))
		if !ok {
			return out
		}
		out = append(out, append(body, '\n'))
		md = after
	}
}
