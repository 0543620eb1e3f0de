package theme

import (
	"context"
	"sync"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/proto/commonv1"
	"github.com/camkit/camkit/sdk/proto/themev1"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Serve runs impl as a theme plugin until the host goes away. It is the whole
// main of a theme plugin.
func Serve(impl Theme) {
	pluginkit.Serve(pluginkit.KindTheme, &Plugin{Impl: impl})
}

// Plugin is the go-plugin glue of the theme kind. A plugin sets Impl; the host
// leaves it nil and gets a Theme from Dispense.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Theme
}

var (
	_ plugin.GRPCPlugin = (*Plugin)(nil)
	_ plugin.Plugin     = (*Plugin)(nil)
	_ Theme             = (*Client)(nil)
)

// GRPCServer serves the Theme service and the Module lifecycle service.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errs.E(errs.Internal, "theme.Plugin: Impl is nil")
	}
	pluginkit.RegisterModule(s, p.Impl)
	themev1.RegisterThemeServer(s, &server{impl: p.Impl})
	return nil
}

// GRPCClient returns a *Client, which implements Theme.
func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return NewClient(conn), nil
}

// ---- server: the plugin's side ----

type server struct {
	themev1.UnimplementedThemeServer
	impl Theme
}

func (s *server) Manifest(ctx context.Context, _ *commonv1.Empty) (*themev1.ManifestResponse, error) {
	m, err := s.impl.Manifest(ctx)
	if err != nil {
		return nil, errs.ToStatus(err)
	}
	return &themev1.ManifestResponse{
		Name:      m.Name,
		BrandName: m.BrandName,
		Colors: &themev1.Colors{
			Primary: m.Colors.Primary, Accent: m.Colors.Accent,
			Background: m.Colors.Background, Text: m.Colors.Text,
		},
		LogoPath: m.LogoPath,
		Assets:   m.Assets,
	}, nil
}

func (s *server) Render(ctx context.Context, r *themev1.RenderRequest) (*themev1.RenderResponse, error) {
	// The request is this call's alone and is dropped after it: the page
	// may keep views into its JSON.
	page, err := decodePage(Kind(r.GetKind()), r.GetPageJson(), true)
	if err != nil {
		return nil, errs.ToStatus(err)
	}
	out, err := s.impl.Render(ctx, page)
	if err != nil {
		return nil, errs.ToStatus(err)
	}
	return &themev1.RenderResponse{Html: out.HTML, Status: int32(out.Status), Title: out.Title}, nil
}

func (s *server) Asset(ctx context.Context, r *themev1.AssetRequest) (*themev1.AssetResponse, error) {
	a, err := s.impl.Asset(ctx, r.GetPath())
	if err != nil {
		return nil, errs.ToStatus(err)
	}
	return &themev1.AssetResponse{ContentType: a.ContentType, Body: a.Body, Etag: a.ETag}, nil
}

// ---- client: the host's side ----

// pageBufs holds the buffers pages are encoded into: a home page with a
// hundred models is tens of kilobytes, encoded on every request.
var pageBufs = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// maxPooledPage bounds what goes back into pageBufs, so one huge page does
// not stay in memory for good.
const maxPooledPage = 1 << 20

// Client is a Theme backed by a plugin process (or any gRPC connection that
// serves camkit.theme.v1.Theme and camkit.common.v1.Module).
type Client struct {
	pluginkit.ModuleClient
	c themev1.ThemeClient
}

// NewClient wraps a connection to a theme plugin.
func NewClient(conn grpc.ClientConnInterface) *Client {
	return &Client{ModuleClient: pluginkit.NewModuleClient(conn), c: themev1.NewThemeClient(conn)}
}

func (c *Client) Manifest(ctx context.Context) (Manifest, error) {
	r, err := c.c.Manifest(ctx, &commonv1.Empty{})
	if err != nil {
		return Manifest{}, errs.FromStatus(err)
	}
	col := r.GetColors()
	return Manifest{
		Name:      r.GetName(),
		BrandName: r.GetBrandName(),
		Colors: Colors{
			Primary: col.GetPrimary(), Accent: col.GetAccent(),
			Background: col.GetBackground(), Text: col.GetText(),
		},
		LogoPath: r.GetLogoPath(),
		Assets:   r.GetAssets(),
	}, nil
}

// Render sends the page's kind and JSON; the plugin decodes it back into the
// typed struct. The kind is not checked here so that the plugin's answer to an
// unknown kind (errs.Invalid) is what the caller sees.
func (c *Client) Render(ctx context.Context, page Page) (Rendered, error) {
	buf := pageBufs.Get().(*[]byte)
	kind, data, err := appendPage((*buf)[:0], page)
	if err != nil {
		pageBufs.Put(buf)
		return Rendered{}, err
	}
	r, err := c.c.Render(ctx, &themev1.RenderRequest{Kind: string(kind), PageJson: data})
	// gRPC has marshalled the request by the time Render returns; the
	// buffer is free again.
	if cap(data) <= maxPooledPage {
		*buf = data[:0]
		pageBufs.Put(buf)
	}
	if err != nil {
		return Rendered{}, errs.FromStatus(err)
	}
	return Rendered{HTML: r.GetHtml(), Status: int(r.GetStatus()), Title: r.GetTitle()}, nil
}

func (c *Client) Asset(ctx context.Context, path string) (Asset, error) {
	r, err := c.c.Asset(ctx, &themev1.AssetRequest{Path: path})
	if err != nil {
		return Asset{}, errs.FromStatus(err)
	}
	return Asset{ContentType: r.GetContentType(), Body: r.GetBody(), ETag: r.GetEtag()}, nil
}
