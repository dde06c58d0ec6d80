namespace Fluxion;

/// <summary>Base class of every error Fluxion raises for misuse. Messages name the operation,
/// the shapes, dtypes or versions involved and what to do instead.</summary>
public class FluxionException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    public FluxionException(string message) : base(message) { }
    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public FluxionException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>Shapes that do not fit together (broadcasting, matrix products, reshapes, indices).</summary>
public class ShapeMismatchException : FluxionException
{
    /// <summary>Creates the exception with a message.</summary>
    public ShapeMismatchException(string message) : base(message) { }
    /// <summary>Creates the exception with a message and the underlying error (e.g. the same error with more context).</summary>
    public ShapeMismatchException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A dtype that the operation does not accept, or two operands of different dtypes.</summary>
public class DTypeMismatchException : FluxionException
{
    /// <summary>Creates the exception with a message.</summary>
    public DTypeMismatchException(string message) : base(message) { }
    /// <summary>Creates the exception with a message and the underlying error (e.g. the same error with more context).</summary>
    public DTypeMismatchException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>Misuse of the autograd engine: backward on a non-scalar without a seed, a second
/// backward through a freed graph, grad of a tensor that does not require grad, and so on.</summary>
public class AutogradException : FluxionException
{
    /// <summary>Creates the exception with a message.</summary>
    public AutogradException(string message) : base(message) { }
    /// <summary>Creates the exception with a message and the underlying error (e.g. the same error with more context).</summary>
    public AutogradException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A tensor saved for backward was modified in place after it was saved.</summary>
public sealed class InPlaceModificationException : AutogradException
{
    /// <summary>Creates the exception with a message.</summary>
    public InPlaceModificationException(string message) : base(message) { }
    /// <summary>Creates the exception with a message and the underlying error (e.g. the same error with more context).</summary>
    public InPlaceModificationException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>An index outside the size it indexes: a Select or indexer position, a Gather, IndexSelect or
/// Embedding index, a class target of a loss. PyTorch raises <c>IndexError</c> for these. The message names
/// the operation, the offending index, the size and dim it must fit, and the shape involved; the same facts
/// are available as properties.</summary>
public sealed class IndexOutOfBoundsException : ShapeMismatchException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="op">The operation that was given the index.</param>
    /// <param name="index">The offending index.</param>
    /// <param name="size">The size it must be below (indices lie in [0, size), or [-size, size) where negative indices count from the end).</param>
    /// <param name="dim">The dimension indexed, or null when the index is not into a dimension (e.g. a class count).</param>
    /// <param name="message">The full message.</param>
    public IndexOutOfBoundsException(string op, long index, long size, int? dim, string message) : base(message)
    {
        Op = op;
        Index = index;
        Size = size;
        Dim = dim;
    }

    /// <summary>The operation that was given the index.</summary>
    public string Op { get; }

    /// <summary>The offending index.</summary>
    public long Index { get; }

    /// <summary>The size the index must fit.</summary>
    public long Size { get; }

    /// <summary>The dimension indexed, or null when the index is not into a dimension.</summary>
    public int? Dim { get; }
}

/// <summary>A tensor whose storage was released (its scope ended, see <see cref="TensorScope"/>) was read or written.</summary>
public class TensorReleasedException : FluxionException
{
    /// <summary>Creates the exception with a message.</summary>
    public TensorReleasedException(string message) : base(message) { }
    /// <summary>Creates the exception with a message and the underlying error.</summary>
    public TensorReleasedException(string message, Exception inner) : base(message, inner) { }
}
