// Command midnight is camkit's second theme plugin: an editorial, dark look
// in deep navy and gold with a left rail instead of a top bar, portrait
// cards with their captions over the picture, and rooms with the chat
// docked on the left. Brand and colours come from the operator's settings,
// the same keys as the default theme's:
//
//	[plugins]
//	theme = "midnight"
//
//	[plugin.theme-midnight.settings]
//	brand = "Velvet"
//	primary = "#c9a45c"
package main

import "github.com/camkit/camkit/sdk/theme"

func main() { theme.Serve(newTheme()) }
