package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/spf13/cobra"
)

func adminCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "admin", Short: "Manage operator (admin) accounts"}
	var email, password, name string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an admin account (the first one is made this way)",
		Long: "Create an admin account. The password comes from --password, or, when that is \"-\" or\n" +
			"empty, from the first line of standard input, so it need not appear in the process list.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if password == "" || password == "-" {
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && line == "" {
					return errs.E(errs.Invalid, "no password: pass --password or write it on standard input")
				}
				password = strings.TrimRight(line, "\r\n")
			}
			cfg, err := g.load()
			if err != nil {
				return err
			}
			db, err := store.Open(cmd.Context(), cfg.Database.URL)
			if err != nil {
				return err
			}
			defer db.Close()
			if _, err := db.Migrate(cmd.Context()); err != nil {
				return err
			}
			svc, err := accounts.New(cmd.Context(), db, accounts.Options{Currency: cfg.Site.Currency})
			if err != nil {
				return err
			}
			u, err := svc.CreateUser(cmd.Context(), accounts.NewUser{Email: email, DisplayName: name, Password: password, Role: accounts.RoleAdmin})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "admin %s created (id %s)\n", u.Email, u.ID)
			return nil
		},
	}
	create.Flags().StringVar(&email, "email", "", "the admin's email address (required)")
	create.Flags().StringVar(&password, "password", "", `the password, or "-" to read it from standard input`)
	create.Flags().StringVar(&name, "name", "Admin", "display name")
	_ = create.MarkFlagRequired("email")
	cmd.AddCommand(create)
	return cmd
}
