"""PDFs: the stamp, its layout, incremental updates, bounds checked before PDFium."""
