"""skinscan: skin-lesion triage from dermoscopic images.

`from skinscan import Client` gives the Python SDK for the gateway's gRPC API.
"""

from skinscan.analysis import DISCLAIMER, Analysis, ModelRef
from skinscan.client import Client, Job

__all__ = ["DISCLAIMER", "Analysis", "Client", "Job", "ModelRef"]
