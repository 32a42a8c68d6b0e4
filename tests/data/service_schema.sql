-- The image-search service's tables as its SQLAlchemy models create them (columns from docs/design.md), with a few
-- of its own extras facefill must leave alone. Timestamps have no database default: the service sets them.
CREATE TABLE image_assets (
  id SERIAL PRIMARY KEY,
  path VARCHAR(1024) NOT NULL UNIQUE,
  created_at TIMESTAMP WITH TIME ZONE NOT NULL,
  width INTEGER,
  height INTEGER,
  file_size BIGINT,
  mime_type VARCHAR(100),
  file_modified_at TIMESTAMP WITH TIME ZONE,
  taken_at TIMESTAMP WITH TIME ZONE,
  thumbnail_path VARCHAR(1024),
  exif_data JSONB
);
CREATE INDEX ix_image_assets_taken_at ON image_assets(taken_at);
CREATE TABLE persons (
  id UUID PRIMARY KEY,
  name VARCHAR(255) NOT NULL
);
CREATE TABLE face_instances (
  id UUID PRIMARY KEY,
  asset_id INTEGER NOT NULL REFERENCES image_assets(id) ON DELETE CASCADE,
  bbox_x INTEGER NOT NULL,
  bbox_y INTEGER NOT NULL,
  bbox_w INTEGER NOT NULL,
  bbox_h INTEGER NOT NULL,
  landmarks JSONB,
  detection_confidence FLOAT NOT NULL,
  quality_score FLOAT,
  qdrant_point_id UUID NOT NULL,
  cluster_id VARCHAR(100),
  person_id UUID REFERENCES persons(id) ON DELETE SET NULL,
  created_at TIMESTAMP WITH TIME ZONE NOT NULL,
  updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
  CONSTRAINT uq_face_instance_location UNIQUE (asset_id, bbox_x, bbox_y, bbox_w, bbox_h)
);
CREATE INDEX ix_face_instances_asset_id ON face_instances(asset_id);
CREATE INDEX ix_face_instances_person_id ON face_instances(person_id);
