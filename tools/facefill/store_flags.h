// Command-line flags that choose the catalog and vector store, shared by the subcommands that use them.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "facefill/catalog.h"
#include "facefill/vector_store.h"

namespace facefill::cli {

struct StoreFlags {
  std::string db;       // --db, default $FACEFILL_DB or ./facefill.db
  std::string vectors;  // --vectors, default: the catalog database itself
};

void AddStoreFlags(CLI::App* app, StoreFlags* flags);

struct Stores {
  std::unique_ptr<Catalog> catalog;
  std::unique_ptr<VectorStore> vectors;
};

// Opens both; prints the error and returns false on failure.
bool OpenStores(const StoreFlags& flags, Stores* stores);

}  // namespace facefill::cli
