namespace Fluxion.Distributed;

/// <summary>A failure of distributed training: a collective that failed or timed out, a process
/// group used wrongly, ranks that disagree.</summary>
public class DistributedException : FluxionException
{
    /// <summary>Creates the exception with a message.</summary>
    public DistributedException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public DistributedException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>The MPI library (Open MPI's libmpi.so.40) could not be loaded or lacks a function.</summary>
public sealed class MpiNotFoundException : DistributedException
{
    /// <summary>Creates the exception with a message.</summary>
    public MpiNotFoundException(string message) : base(message) { }
}
