package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/app"
	"github.com/spf13/cobra"
)

func adminCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "admin", Short: "Manage operator accounts"}
	var email, name, password string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an admin account (the first one, or another)",
		Long: "Create an admin account. The password comes from --password, else CAMKIT_ADMIN_PASSWORD, else the first line of standard input,\n" +
			"so it need not appear in the shell history.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load()
			if err != nil {
				return err
			}
			if password == "" {
				password = os.Getenv("CAMKIT_ADMIN_PASSWORD")
			}
			if password == "" || password == "-" {
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && line == "" {
					return fmt.Errorf("admin create: give the password with --password, CAMKIT_ADMIN_PASSWORD or on standard input")
				}
				password = strings.TrimRight(line, "\r\n")
			}
			db, err := openStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer db.Close()
			acc, err := app.NewAccounts(cmd.Context(), cfg, db)
			if err != nil {
				return err
			}
			if name == "" {
				name, _, _ = strings.Cut(email, "@")
			}
			u, err := acc.CreateUser(cmd.Context(), accounts.NewUser{Email: email, DisplayName: name, Password: password, Role: accounts.RoleAdmin})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "admin %s created (id %s, shown as %q)\n", u.Email, u.ID, u.DisplayName)
			return nil
		},
	}
	create.Flags().StringVar(&email, "email", "", "the admin's email (required)")
	create.Flags().StringVar(&name, "name", "", "display name (default: the part of the email before @)")
	create.Flags().StringVar(&password, "password", "", "password; \"-\" reads it from standard input (prefer that, or CAMKIT_ADMIN_PASSWORD)")
	_ = create.MarkFlagRequired("email")
	cmd.AddCommand(create)
	return cmd
}
