package main

import (
	"github.com/spf13/cobra"
)

func ledgerCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "ledger", Short: "Inspect and check the double-entry ledger"}
	return cmd
}
