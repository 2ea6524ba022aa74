package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/shopassist/shopassist/internal/redisopt"
)

// envName is the environment variable that sets a flag: --data-dir →
// ASSISTANT_DATA_DIR.
func envName(flagName string) string {
	return "ASSISTANT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args, then fills every flag not given on the command
// line from its ASSISTANT_* environment variable.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, e)
			}
		}
	})
	return err
}

// secretFlags are printed masked.
var secretFlags = map[string]bool{"admin-token": true, "rerank-token": true, "llm-api-key": true, "operator-password": true, "pseudonym-key": true}

// effectiveConfig lists every flag's value for the start-up log, with
// secrets masked and passwords in URLs removed.
func effectiveConfig(fs *flag.FlagSet) []any {
	var kv []any
	fs.VisitAll(func(f *flag.Flag) {
		v := f.Value.String()
		switch {
		case secretFlags[f.Name] && v != "":
			v = "***"
		case strings.HasSuffix(f.Name, "-url"):
			v = redisopt.MaskURL(v)
		}
		kv = append(kv, f.Name, v)
	})
	return kv
}
