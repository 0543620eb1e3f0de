// Command default is camkit's default theme plugin: a dark, responsive cam
// site whose brand and colours come from the operator's settings, e.g.
//
//	[plugins.theme-default.settings]
//	brand = "camkit"
//	primary = "#e91e63"
package main

import "github.com/camkit/camkit/sdk/theme"

func main() { theme.Serve(newTheme()) }
