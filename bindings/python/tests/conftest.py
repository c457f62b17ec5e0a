import warnings

# Scanpy/anndata import-time deprecation noise is not part of any comparison.
warnings.filterwarnings("ignore", message=r".*__version__.*", category=FutureWarning)
