"""Face pipeline: plain Python (no Django). Images in, arrays and dataclasses out."""
