package web

// The API's tipping shapes, for the OpenAPI test (package web_test).
type (
	APIGoal     = apiGoal
	APIMenuItem = apiMenuItem
	APITipping  = apiTipping
	GoalBody    = goalBody
	MenuTipBody = menuTipBody
)
