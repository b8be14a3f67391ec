// checklog checks our checkpoints and proofs with Go's golang.org/x/mod/sumdb packages, as an
// independent implementation of C2SP signed notes (note.Open) and RFC 9162 proofs
// (tlog.CheckRecord, tlog.CheckTree). Input: a JSON file named on the command line (see
// tests/test_interop_go.py). Output: one line per check; exit status 1 if any check failed.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type record struct {
	Index int64    `json:"index"`
	Data  string   `json:"data"`
	Proof []string `json:"proof"`
}

type tree struct {
	OldSize int64    `json:"old_size"`
	OldRoot string   `json:"old_root"`
	Proof   []string `json:"proof"`
}

type input struct {
	Vkey       string   `json:"vkey"`
	Checkpoint string   `json:"checkpoint"`
	Records    []record `json:"records"`
	Trees      []tree   `json:"trees"`
}

func hash(text string) (tlog.Hash, error) {
	var h tlog.Hash
	raw, err := base64.StdEncoding.DecodeString(text)
	if err != nil || len(raw) != len(h) {
		return h, fmt.Errorf("bad hash %q", text)
	}
	copy(h[:], raw)
	return h, nil
}

func hashes(texts []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(texts))
	for i, text := range texts {
		h, err := hash(text)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

func main() {
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Println("read:", err)
		os.Exit(2)
	}
	var in input
	if err := json.Unmarshal(raw, &in); err != nil {
		fmt.Println("json:", err)
		os.Exit(2)
	}
	failed := false
	fail := func(format string, args ...any) {
		fmt.Printf("FAIL "+format+"\n", args...)
		failed = true
	}
	verifier, err := note.NewVerifier(in.Vkey)
	if err != nil {
		fail("verifier key: %v", err)
		os.Exit(1)
	}
	n, err := note.Open([]byte(in.Checkpoint), note.VerifierList(verifier))
	if err != nil {
		fail("note.Open: %v", err)
		os.Exit(1)
	}
	fmt.Printf("ok note.Open: %d signature(s) verified\n", len(n.Sigs))
	lines := strings.Split(n.Text, "\n")
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("checkpoint size: %v", err)
		os.Exit(1)
	}
	root, err := hash(lines[2])
	if err != nil {
		fail("checkpoint root: %v", err)
		os.Exit(1)
	}
	for _, r := range in.Records {
		data, err := base64.StdEncoding.DecodeString(r.Data)
		proof, perr := hashes(r.Proof)
		if err != nil || perr != nil {
			fail("record %d: bad input", r.Index)
			continue
		}
		if err := tlog.CheckRecord(proof, size, root, r.Index, tlog.RecordHash(data)); err != nil {
			fail("tlog.CheckRecord %d in %d: %v", r.Index, size, err)
		} else {
			fmt.Printf("ok tlog.CheckRecord %d in %d\n", r.Index, size)
		}
	}
	for _, t := range in.Trees {
		oldRoot, err := hash(t.OldRoot)
		proof, perr := hashes(t.Proof)
		if err != nil || perr != nil {
			fail("tree %d: bad input", t.OldSize)
			continue
		}
		if err := tlog.CheckTree(proof, size, root, t.OldSize, oldRoot); err != nil {
			fail("tlog.CheckTree %d -> %d: %v", t.OldSize, size, err)
		} else {
			fmt.Printf("ok tlog.CheckTree %d -> %d\n", t.OldSize, size)
		}
	}
	if failed {
		os.Exit(1)
	}
}
