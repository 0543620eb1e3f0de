package pluginkit

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/proto/commonv1"
	"google.golang.org/grpc"
)

// Info names a plugin.
type Info struct {
	Kind    Kind   `json:"kind"`
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Module is the lifecycle every plugin kind shares. Configure is called once
// after every launch (also after a restart) with the operator's settings as a
// JSON object; it must validate them and return an errs.Invalid error naming
// the bad key, so that `camkit serve` stops with one clear line.
type Module interface {
	Info(ctx context.Context) (Info, error)
	Configure(ctx context.Context, settingsJSON []byte) error
}

// DecodeSettings unmarshals settings JSON strictly (unknown keys are an error)
// into dst. An empty input leaves dst as it is.
func DecodeSettings(settingsJSON []byte, dst any) error {
	if len(settingsJSON) == 0 || string(settingsJSON) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(settingsJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return errs.E(errs.Invalid, "settings: %v", err)
	}
	return nil
}

// RegisterModule serves m's Module service on s. Each kind's GRPCServer calls it.
func RegisterModule(s *grpc.Server, m Module) {
	commonv1.RegisterModuleServer(s, &moduleServer{m: m})
}

type moduleServer struct {
	commonv1.UnimplementedModuleServer
	m Module
}

func (s *moduleServer) Info(ctx context.Context, _ *commonv1.Empty) (*commonv1.ModuleInfo, error) {
	i, err := s.m.Info(ctx)
	if err != nil {
		return nil, errs.ToStatus(err)
	}
	return &commonv1.ModuleInfo{Kind: string(i.Kind), Name: i.Name, Version: i.Version}, nil
}

func (s *moduleServer) Configure(ctx context.Context, r *commonv1.ConfigureRequest) (*commonv1.Empty, error) {
	if err := s.m.Configure(ctx, r.GetSettingsJson()); err != nil {
		return nil, errs.ToStatus(err)
	}
	return &commonv1.Empty{}, nil
}

// ModuleClient is the host's side of Module. Each kind's client embeds it.
type ModuleClient struct{ c commonv1.ModuleClient }

// NewModuleClient wraps a gRPC connection to a plugin.
func NewModuleClient(conn grpc.ClientConnInterface) ModuleClient {
	return ModuleClient{c: commonv1.NewModuleClient(conn)}
}

func (m ModuleClient) Info(ctx context.Context) (Info, error) {
	r, err := m.c.Info(ctx, &commonv1.Empty{})
	if err != nil {
		return Info{}, errs.FromStatus(err)
	}
	return Info{Kind: Kind(r.GetKind()), Name: r.GetName(), Version: r.GetVersion()}, nil
}

func (m ModuleClient) Configure(ctx context.Context, settingsJSON []byte) error {
	_, err := m.c.Configure(ctx, &commonv1.ConfigureRequest{SettingsJson: settingsJSON})
	return errs.FromStatus(err)
}
