module github.com/camkit/camkit

go 1.26

require github.com/camkit/camkit/sdk v0.0.0

replace github.com/camkit/camkit/sdk => ./sdk
