"""tensorml models as i-PI drivers (PES class and the tensorml-ipi command)."""
