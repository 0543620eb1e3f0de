package main

import (
	"fmt"

	"github.com/camkit/camkit/core/ledger"
	"github.com/spf13/cobra"
)

func ledgerCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "ledger", Short: "Inspect and check the double-entry ledger"}
	cmd.AddCommand(&cobra.Command{
		Use:   "verify",
		Short: "Recompute every balance from the transfers; print each fault; exit 1 on any",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load()
			if err != nil {
				return err
			}
			db, err := openStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer db.Close()
			r, err := ledger.New(db, ledger.Options{}).Verify(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, f := range r.Faults {
				fmt.Fprintf(out, "FAULT %s: %s\n", f.Kind, f.Message)
			}
			fmt.Fprintln(out, r.Summary())
			if !r.Clean() {
				return exitError{1, fmt.Errorf("ledger verify: %d fault(s)", len(r.Faults))}
			}
			return nil
		},
	})
	return cmd
}
