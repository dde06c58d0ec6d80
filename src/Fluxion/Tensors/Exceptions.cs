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
